package checks_test

import (
	"fmt"
	"time"

	"github.com/musterhq/muster/internal/checks"
)

// A TTL check reports what the application tells it through SetTTL, and
// turns critical if the application falls silent for longer than the TTL.
func ExampleRunner_SetTTL() {
	notify := checks.NotifyFunc(func(checkID, status, output string) {
		fmt.Println(checkID, status, output)
	})
	r, err := checks.Start(checks.Spec{ID: "service:web", TTL: time.Minute}, notify, checks.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer r.Stop()

	r.SetTTL(checks.Passing, "warmed up")
	r.SetTTL(checks.Warning, "cache cold")
	// Output:
	// service:web passing warmed up
	// service:web warning cache cold
}

func ExampleSpec_Validate() {
	spec := checks.Spec{ID: "service:web", HTTP: "http://127.0.0.1:8080/health"}
	fmt.Println(spec.Validate())

	spec.Interval = 10 * time.Second
	fmt.Println(spec.Validate(), spec.Type())
	// Output:
	// checks: check "service:web": Interval=0s: must be > 0 for http checks
	// <nil> http
}
