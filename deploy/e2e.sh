#!/usr/bin/env bash
# deploy/e2e.sh: end-to-end test of deploy/compose.yaml, the course's
# three-server cluster with a client agent and three userservice instances.
#
#   bash deploy/e2e.sh              # build binaries and image, then test
#   E2E_SKIP_BUILD=1 bash deploy/e2e.sh   # reuse deploy/bin and muster:dev
#
# It builds the binaries from the working tree, builds muster:dev, starts the
# compose project under a unique project name, and checks:
#
#   (a) the three servers elect one leader and list three voters
#   (b) a key written through the client agent c1 is read from every server,
#       with ?stale and by default
#   (c) `docker stop` of the leader: a new leader is elected and writes
#       through c1 resume (the time to the first acknowledged write is printed)
#   (e) the stopped leader started again rejoins as a follower, data intact
#   (d) `docker network disconnect` of a follower: the other two keep taking
#       writes, the cut-off one refuses a ?consistent read (HTTP 500), and
#       after `docker network connect` it catches up
#   (f) the three userservice instances pass their checks
#   (g) `docker kill` of the client agent they registered with: they stay
#       in ?passing on the servers (cluster-owned checks, run by the
#       leader), and a userservice stopped afterwards turns critical
#
# (e) runs before (d): with the old leader stopped only two servers are up,
# and cutting one of them off would leave no quorum at all.
#
# Each check polls with a deadline; nothing sleeps for long. It prints PASS,
# FAIL or SKIP per step and exits 1 if any step failed. The project is torn
# down with its volumes on exit; the containers' logs are kept in a temporary
# directory whose path is printed.
#
# Needs docker, `docker compose` or `docker-compose`, curl, and Go. The host
# ports 18500-18503 and 15726-15728 and the subnet 10.213.7.0/24 must be free.
set -euo pipefail

cd "$(dirname "$0")/.."
PROJECT=${E2E_PROJECT:-muster-e2e-$$}
FILE=deploy/compose.yaml
LOGDIR=$(mktemp -d "${TMPDIR:-/tmp}/muster-e2e.XXXXXX")

if docker compose version >/dev/null 2>&1; then
	COMPOSE=(docker compose)
elif command -v docker-compose >/dev/null; then
	COMPOSE=(docker-compose)
else
	echo "e2e: needs 'docker compose' or 'docker-compose'" >&2
	exit 2
fi
compose() { "${COMPOSE[@]}" -p "$PROJECT" -f "$FILE" "$@"; }

# Published HTTP ports and cluster addresses, as in compose.yaml.
declare -A PORT=([c1]=18500 [s1]=18501 [s2]=18502 [s3]=18503)
declare -A IP=([s1]=10.213.7.11 [s2]=10.213.7.12 [s3]=10.213.7.13 [c1]=10.213.7.20)
SERVERS=(s1 s2 s3)

now_ms() { date +%s%3N; }
log() { printf '%s %s\n' "$(date +%T.%3N)" "$*" >&2; }
# why records the reason a check failed; the step prints it with FAIL.
why() { log "  why: $*"; }

# --- HTTP -----------------------------------------------------------------

# Seconds one request may take; step (c) waits longer, to time the failover
# as a patient client sees it.
TIMEOUT=3

# req NODE METHOD PATH [BODY] calls NODE's HTTP API from the host and sets
# CODE (000 when nothing answered; BODY then says why) and BODY. It
# succeeds on a 2xx answer.
req() {
	local node=$1 method=$2 path=$3 out rc=0
	local args=(-sS -m "$TIMEOUT" -X "$method" -w '\n%{http_code}')
	[[ $# -ge 4 ]] && args+=(--data-binary "$4")
	out=$(curl "${args[@]}" "http://127.0.0.1:${PORT[$node]}$path" 2>&1) || rc=$?
	CODE=${out##*$'\n'} BODY=${out%$'\n'*}
	((rc == 0)) && [[ $CODE == 2* ]]
}

# req_in NODE METHOD PATH [BODY] is req from inside NODE's container (with
# deploy/fetch), for a node the host cannot reach once it is cut off.
req_in() {
	local node=$1 method=$2 path=$3 out rc=0
	local args=(-m "$TIMEOUT" -X "$method")
	[[ $# -ge 4 ]] && args+=(-d "$4")
	out=$(docker exec "$(cid "$node")" /fetch "${args[@]}" "http://127.0.0.1:8500$path" 2>&1) || rc=$?
	if ((rc != 0 && rc != 22)); then
		CODE=000 BODY=$out
		return 1
	fi
	CODE=${out%%$'\n'*} BODY=
	[[ $out == *$'\n'* ]] && BODY=${out#*$'\n'}
	[[ $CODE == 2* ]]
}

# kv_is NODE KEY VALUE [QUERY]: NODE reads VALUE at KEY (QUERY like &stale).
kv_is() { req "$1" GET "/v1/kv/$2?raw${4-}" && [[ $BODY == "$3" ]]; }
# put NODE KEY VALUE: NODE acknowledges the write ("true", with or
# without a newline).
put() { req "$1" PUT "/v1/kv/$2" "$3" && [[ ${BODY%$'\n'} == true ]]; }

# --- cluster state --------------------------------------------------------

# cid NODE prints NODE's container ID (filled in after `compose up`).
declare -A CID=()
cid() { echo "${CID[$1]}"; }

# node_at ADDR prints the node whose cluster address ADDR (ip:port) is.
node_at() {
	local n
	for n in "${!IP[@]}"; do
		[[ ${IP[$n]} == "${1%:*}" ]] && { echo "$n"; return; }
	done
	echo "?$1"
}

# leader_seen_by NODE prints the leader NODE knows of; fails if none.
leader_seen_by() {
	req "$1" GET /v1/status/leader || return 1
	local addr=${BODY//\"/}
	[[ -n $addr ]] || return 1
	node_at "$addr"
}

# voters NODE prints how many voters NODE's Raft configuration lists.
voters() {
	req "$1" GET /v1/operator/raft/configuration || { echo 0; return 1; }
	grep -o '"Voter": *true' <<<"$BODY" | wc -l
}

# agreed_leader NODE...: all NODEs name the same leader, printed.
agreed_leader() {
	local n l first=
	for n in "$@"; do
		l=$(leader_seen_by "$n") || return 1
		[[ -z $first ]] && first=$l
		[[ $l == "$first" ]] || return 1
	done
	echo "$first"
}

# healthy_cluster: the three servers agree on a leader, which lists three voters.
healthy_cluster() {
	local l
	l=$(agreed_leader "${SERVERS[@]}") || return 1
	[[ $(voters "$l") -eq 3 ]]
}

# until_ok SECONDS WHAT CMD...: runs CMD every 200 ms until it succeeds or
# SECONDS pass.
until_ok() {
	local secs=$1 what=$2
	local deadline=$(($(now_ms) + secs * 1000))
	shift 2
	until "$@" >/dev/null; do
		if (($(now_ms) > deadline)); then
			why "no $what within $secs s"
			return 1
		fi
		sleep 0.2
	done
}

# --- steps ----------------------------------------------------------------
# Each returns non-zero on failure. They run under `if`, where set -e does
# not apply, so every check says `|| return 1` itself.

B_VALUE='' STOPPED='' C_VALUE='' LEADER=''

step_a() {
	if ! until_ok 60 "leader with three voters" healthy_cluster; then
		local n
		for n in "${SERVERS[@]}"; do
			req "$n" GET /v1/operator/raft/configuration
			why "$n: leader=$(leader_seen_by "$n" || echo none) raft configuration: $CODE ${BODY:0:300}"
		done
		return 1
	fi
	LEADER=$(agreed_leader "${SERVERS[@]}")
	log "  leader is $LEADER"
	# The seed's command. A CLI without it is only noted (the HTTP API above
	# is the contract); a CLI that lists other than three voters fails.
	local peers
	if ! peers=$(docker exec "$(cid s1)" /muster operator raft list-peers 2>&1); then
		log "  note: 'muster operator raft list-peers' failed: $peers"
		return 0
	fi
	printf '%s\n' "$peers" >&2
	[[ $(awk 'NR > 1 && $5 == "true"' <<<"$peers" | wc -l) -eq 3 ]] || { why "list-peers does not show three voters"; return 1; }
}

step_b() {
	local v="b-$RANDOM$RANDOM" n
	until_ok 30 "write through c1" put c1 e2e/b "$v" || { why "PUT via c1: $CODE $BODY"; return 1; }
	for n in "${SERVERS[@]}" c1; do
		until_ok 5 "?stale read of $v on $n" kv_is "$n" e2e/b "$v" '&stale' || { why "$n ?stale: $CODE $BODY"; return 1; }
		until_ok 5 "default read of $v on $n" kv_is "$n" e2e/b "$v" || { why "$n default: $CODE $BODY"; return 1; }
	done
	B_VALUE=$v
}

step_c() {
	local old t_issue t_exited t_ack deadline attempts=0 v new n k
	local -A failures=() # refusal -> how many times
	old=$(agreed_leader "${SERVERS[@]}") || { why "no agreed leader before the stop"; return 1; }
	t_issue=$(now_ms)
	docker stop "$(cid "$old")" >/dev/null
	t_exited=$(now_ms)
	STOPPED=$old
	deadline=$((t_exited + 30000))
	while :; do
		attempts=$((attempts + 1))
		v="c-$attempts-$RANDOM"
		TIMEOUT=10 put c1 e2e/c "$v" && break
		k="$CODE ${BODY:0:120}"
		failures[$k]=$((${failures[$k]:-0} + 1))
		if (($(now_ms) > deadline)); then
			why "no write acknowledged through c1 within 30 s of stopping $old"
			for k in "${!failures[@]}"; do why "  ${failures[$k]}x $k"; done
			return 1
		fi
		sleep 0.1
	done
	t_ack=$(now_ms)
	C_VALUE=$v
	local survivors=()
	for n in "${SERVERS[@]}"; do [[ $n == "$old" ]] || survivors+=("$n"); done
	until_ok 10 "leader among ${survivors[*]}" agreed_leader "${survivors[@]}" || return 1
	new=$(agreed_leader "${survivors[@]}")
	[[ $new != "$old" ]] || { why "survivors still name $old"; return 1; }
	LEADER=$new
	log "  stopped leader $old (docker stop took $((t_exited - t_issue)) ms); new leader $new"
	log "  first write acknowledged $((t_ack - t_exited)) ms after $old exited ($((t_ack - t_issue)) ms after docker stop was issued), attempt $attempts"
	for k in "${!failures[@]}"; do log "    refused ${failures[$k]}x: $k"; done
	printf '  leader failover: first acknowledged write %d ms after the leader exited\n' $((t_ack - t_exited))
}

step_e() {
	[[ -n $STOPPED ]] || { why "step (c) stopped no leader"; return 1; }
	docker start "$(cid "$STOPPED")" >/dev/null
	until_ok 30 "$STOPPED catching up on the write it missed" kv_is "$STOPPED" e2e/c "$C_VALUE" '&stale' ||
		{ why "$STOPPED ?stale: $CODE $BODY"; return 1; }
	kv_is "$STOPPED" e2e/b "$B_VALUE" '&stale' || { why "$STOPPED lost e2e/b: $CODE $BODY"; return 1; }
	until_ok 30 "three voters again" healthy_cluster || { why "raft configuration: $(voters "$LEADER") voters"; return 1; }
	local l
	l=$(agreed_leader "${SERVERS[@]}")
	[[ $l != "$STOPPED" ]] || { why "$STOPPED took the leadership back on rejoining"; return 1; }
	[[ $l == "$LEADER" ]] || log "  note: leadership moved from $LEADER to $l while $STOPPED rejoined"
	log "  $STOPPED rejoined as a follower of $l; e2e/b and e2e/c intact"
	STOPPED=
}

step_d() {
	local leader f net v n t_cut
	leader=$(agreed_leader "${SERVERS[@]}") || { why "no agreed leader before the cut"; return 1; }
	for n in "${SERVERS[@]}"; do [[ $n == "$leader" ]] || { f=$n; break; }; done
	net=$(docker inspect -f '{{range $k, $v := .NetworkSettings.Networks}}{{$k}}{{end}}' "$(cid "$f")")
	docker network disconnect "$net" "$(cid "$f")"
	t_cut=$(now_ms)
	log "  cut $f off $net (leader $leader)"
	v="d-$RANDOM$RANDOM"
	until_ok 15 "write through c1 with $f cut off" put c1 e2e/d "$v" || { why "PUT via c1: $CODE $BODY"; reconnect "$net" "$f"; return 1; }
	log "  first write through c1 acknowledged $(($(now_ms) - t_cut)) ms after the cut"
	put "$leader" e2e/d2 "$v" || { why "PUT on leader $leader: $CODE $BODY"; reconnect "$net" "$f"; return 1; }
	# Consul holds such a read up to rpc_hold_timeout (7 s) before it gives up.
	TIMEOUT=15 until_ok 30 "HTTP 500 for a ?consistent read on $f" consistent_refused "$f" ||
		{ why "$f ?consistent answered $CODE ${BODY:0:200}"; reconnect "$net" "$f"; return 1; }
	log "  $f refuses ?consistent $(($(now_ms) - t_cut)) ms after the cut: $CODE ${BODY:0:200}"
	req_in "$f" GET "/v1/kv/e2e/b?raw&stale" && log "  $f still serves ?stale from its copy: $BODY"
	v="d-after-$RANDOM"
	put c1 e2e/d "$v" || { why "PUT via c1 after the refusal: $CODE $BODY"; reconnect "$net" "$f"; return 1; }
	reconnect "$net" "$f" || return 1
	t_cut=$(now_ms)
	until_ok 30 "$f catching up after reconnecting" kv_is "$f" e2e/d "$v" '&stale' || { why "$f ?stale: $CODE $BODY"; return 1; }
	log "  $f reconnected; its ?stale read has the latest write after $(($(now_ms) - t_cut)) ms"
	until_ok 15 "?consistent read on $f after reconnecting" kv_is "$f" e2e/d "$v" '&consistent' || { why "$f ?consistent: $CODE $BODY"; return 1; }
}

consistent_refused() { ! req_in "$1" GET '/v1/kv/e2e/b?consistent' && [[ $CODE == 500 ]]; }

# reconnect NET NODE puts NODE back on NET at its fixed address.
reconnect() { docker network connect --ip "${IP[$2]}" "$1" "$(cid "$2")"; }

step_f() {
	until_ok 60 "three passing UserService instances" passing_instances 3 || {
		req c1 GET '/v1/health/service/UserService'
		why "health: $CODE ${BODY:0:400}"
		return 1
	}
	req c1 GET '/v1/health/service/UserService?passing'
	log "  passing: $(grep -o '"ID": *"UserService-[^"]*"' <<<"$BODY" | sort | tr '\n' ' ')"
	local port
	for port in 15726 15727 15728; do
		curl -sS -m 3 "http://127.0.0.1:$port/api/users/get?id=1" | grep -q '"Instance":"10.213.7.3' ||
			{ why "userservice on host port $port does not answer with its instance"; return 1; }
	done
}

passing_instances() {
	req c1 GET '/v1/health/service/UserService?passing' || return 1
	[[ $(grep -o '"ID": *"UserService-[^"]*"' <<<"$BODY" | sort -u | wc -l) -eq $1 ]]
}

# passing_on NODE N: NODE's ?passing answer lists N UserService instances.
passing_on() {
	req "$1" GET '/v1/health/service/UserService?passing' || return 1
	[[ $(grep -o '"ID": *"UserService-[^"]*"' <<<"$BODY" | sort -u | wc -l) -eq $2 ]]
}

# serf_critical NODE OF: NODE's catalog has OF's serfHealth critical.
serf_critical() {
	req "$1" GET "/v1/health/node/$2" && grep -q '"CheckID": *"serfHealth"[^}]*"Status": *"critical"' <<<"$(tr -d '\n' <<<"$BODY")"
}

step_g() {
	local s
	s=$(leader_seen_by s1) || { why "no leader"; return 1; }
	docker kill "$(cid c1)" >/dev/null
	log "  killed c1; asking $s"
	until_ok 15 "c1 critical on $s" serf_critical "$s" c1 || return 1
	# Past one check interval (12 s) the three are still passing.
	local deadline=$((SECONDS + 14))
	while ((SECONDS < deadline)); do
		passing_on "$s" 3 || { why "instances passing on $s with c1 dead: want 3 ($CODE ${BODY:0:300})"; return 1; }
		sleep 1
	done
	log "  three instances still passing 14 s after c1 died"
	compose stop -t 2 userservice3 >/dev/null 2>&1
	until_ok 40 "userservice3 no longer passing (its check run by the leader)" passing_on "$s" 2 || return 1
	log "  userservice3 stopped: its check, run by the cluster, went critical"
}

# --- run ------------------------------------------------------------------

cleanup() {
	local rc=$?
	compose logs --no-color >"$LOGDIR/compose.log" 2>&1 || true
	compose down -v --remove-orphans -t 5 >/dev/null 2>&1 || true
	log "logs: $LOGDIR/compose.log"
	exit "$rc"
}

if [[ -z ${E2E_SKIP_BUILD:-} ]]; then
	log "building binaries and muster:dev"
	export GOTOOLCHAIN=${GOTOOLCHAIN:-local} CGO_ENABLED=0
	go build -trimpath -o deploy/bin/muster ./cmd/muster
	go build -trimpath -o deploy/bin/userservice ./examples/userservice
	go build -trimpath -o deploy/bin/fetch ./deploy/fetch
	docker build -q -t muster:dev deploy >/dev/null
fi

trap cleanup EXIT
trap 'exit 130' INT TERM
log "starting project $PROJECT"
compose up -d
for n in s1 s2 s3 c1; do CID[$n]=$(compose ps -q "$n"); done

FAILED=0 GATE=''
step() {
	local id=$1 fn=$2 title=$3
	if [[ -n $GATE ]]; then
		printf 'SKIP (%s) %s: %s\n' "$id" "$title" "$GATE"
		return
	fi
	log "($id) $title"
	if "$fn"; then
		printf 'PASS (%s) %s\n' "$id" "$title"
	else
		printf 'FAIL (%s) %s\n' "$id" "$title"
		FAILED=1
		return 1
	fi
}

step a step_a "three servers, one leader, three voters" || GATE="no cluster"
step b step_b "a write through c1 is read on every server" || true
step c step_c "the leader stopped: new leader, writes resume" || true
step e step_e "the old leader restarted: rejoins as follower, data intact" || true
step d step_d "a follower cut off: majority writes, ?consistent refused there, catches up" || true
GATE='' # (f) needs only c1 and a leader; always worth knowing
step f step_f "three userservice instances passing" || true
step g step_g "the client agent killed: its services stay, their checks run by the leader" || true

if ((FAILED)); then
	for n in "${!CID[@]}"; do
		log "--- $n: $(docker inspect -f 'restarts={{.RestartCount}} running={{.State.Running}} exit={{.State.ExitCode}} oom={{.State.OOMKilled}}' "${CID[$n]}")"
	done
	for n in s1 s2 s3 c1; do
		log "--- last lines of $n"
		compose logs --no-color --tail=15 "$n" >&2 || true
	done
	echo "e2e: FAIL"
	exit 1
fi
echo "e2e: PASS"
