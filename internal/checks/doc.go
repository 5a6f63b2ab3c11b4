// Package checks runs the health checks of an agent's local services, as
// Consul's agent/checks package does, and reports their results through a
// Notifier.
//
// A check is described by a Spec of exactly one kind:
//
//   - HTTP: a request every Interval; 2xx is passing, 429 warning, anything
//     else (or no response) critical.
//   - TCP: a connection every Interval; passing if it opens.
//   - UDP: an empty datagram every Interval; passing unless the host answers
//     with an error (an ICMP port unreachable shows up as "connection
//     refused"). Silence until Timeout counts as passing.
//   - GRPC: grpc.health.v1.Health/Check every Interval; passing if SERVING.
//   - Args (a script): a program every Interval; exit 0 is passing, 1 warning,
//     anything else critical. Only with Options.EnableScriptChecks.
//   - TTL: no probe; the application reports its state through SetTTL, and
//     the check turns critical when it stays silent for TTL.
//
// Start validates a Spec and starts its Runner; Stop ends it. An interval
// check has one goroutine, which waits a random stagger in [0, Interval), so
// that the checks of a restarted agent do not all fire at once, and then
// probes every Interval, each probe bounded by Timeout. Probe results pass
// through the check's thresholds (SuccessBeforePassing, FailuresBeforeWarning,
// FailuresBeforeCritical) before they reach the Notifier.
//
// The package depends on nothing else in muster: the agent owns a check's
// state (its initial status, its sync to the catalog) and turns notifications
// into state updates.
package checks
