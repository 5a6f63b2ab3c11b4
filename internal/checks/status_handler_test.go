package checks

import (
	"strings"
	"testing"
)

func TestStatusHandler(t *testing.T) {
	type testcase struct {
		successBeforePassing, failuresBeforeWarning, failuresBeforeCritical int
		// in and want are space-separated statuses; "-" in want means the
		// result is not reported.
		in, want string
	}
	run := func(t *testing.T, tc testcase) {
		h := newStatusHandler(withDefaults(Spec{
			SuccessBeforePassing:   tc.successBeforePassing,
			FailuresBeforeWarning:  tc.failuresBeforeWarning,
			FailuresBeforeCritical: tc.failuresBeforeCritical,
		}))
		var got []string
		for _, status := range strings.Fields(tc.in) {
			report, ok := h.next(status)
			if !ok {
				report = "-"
			}
			got = append(got, report)
		}
		if g := strings.Join(got, " "); g != tc.want {
			t.Errorf("in:   %s\ngot:  %s\nwant: %s", tc.in, g, tc.want)
		}
	}

	cases := map[string]testcase{
		"no thresholds report everything": {
			in:   "passing critical warning critical passing",
			want: "passing critical warning critical passing",
		},
		"the first result is always reported": {
			successBeforePassing: 3, failuresBeforeCritical: 3,
			in:   "critical",
			want: "critical",
		},
		"success before passing": {
			successBeforePassing: 3,
			in:                   "passing critical passing passing passing passing",
			want:                 "passing critical - - passing passing",
		},
		"warning defaults to the critical threshold": {
			failuresBeforeCritical: 3,
			in:                     "passing critical critical critical critical",
			want:                   "passing - - critical critical",
		},
		"warning before critical": {
			failuresBeforeWarning: 1, failuresBeforeCritical: 3,
			in:   "passing critical critical critical passing",
			want: "passing warning warning critical passing",
		},
		"a success resets the failures": {
			failuresBeforeCritical: 2,
			in:                     "passing critical passing critical critical",
			want:                   "passing - passing - critical",
		},
		"a failure resets the successes": {
			successBeforePassing: 2,
			in:                   "critical passing critical passing passing",
			want:                 "critical - critical - passing",
		},
		"warning counts as a success": {
			successBeforePassing: 2, failuresBeforeCritical: 2,
			in:   "passing critical warning passing",
			want: "passing - - passing",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) { run(t, tc) })
	}
}
