package balance

import "testing"

func TestWeightOf(t *testing.T) {
	type testcase struct {
		passing int
		tags    []string
		meta    map[string]string
		want    int
	}
	run := func(t *testing.T, tc testcase) {
		if got := WeightOf(tc.passing, tc.tags, tc.meta); got != tc.want {
			t.Fatalf("WeightOf(%d, %q, %v) = %d, want %d", tc.passing, tc.tags, tc.meta, got, tc.want)
		}
	}
	for name, tc := range map[string]testcase{
		"nothing":                       {0, nil, nil, 1},
		"consul default":                {1, nil, nil, 1},
		"passing":                       {10, nil, nil, 10},
		"passing beats tag and meta":    {5, []string{"weight=3"}, map[string]string{"weight": "7"}, 5},
		"passing capped":                {MaxWeight + 1, nil, nil, MaxWeight},
		"course tag, consul default":    {1, []string{"10"}, nil, 10},
		"course tag, no weights":        {0, []string{"5"}, nil, 5},
		"meta":                          {1, nil, map[string]string{"weight": "7"}, 7},
		"meta beats tag":                {1, []string{"weight=3"}, map[string]string{"weight": "7"}, 7},
		"weight= tag":                   {1, []string{"v2", "weight=3"}, nil, 3},
		"weight: tag":                   {1, []string{"Weight: 4"}, nil, 4},
		"bad meta falls to tag":         {1, []string{"weight=3"}, map[string]string{"weight": "heavy"}, 3},
		"zero meta falls to tag":        {1, []string{"2"}, map[string]string{"weight": "0"}, 2},
		"negative tag":                  {1, []string{"weight=-4"}, nil, 1},
		"only the first bare tag":       {1, []string{"v2", "9"}, nil, 1},
		"non-numeric first tag":         {1, []string{"primary"}, nil, 1},
		"huge tag capped":               {1, []string{"99999999999999999999999"}, nil, MaxWeight},
		"huge negative tag ignored":     {1, []string{"-99999999999999999999999"}, nil, 1},
		"other key=value tags ignored":  {1, []string{"zone=3"}, nil, 1},
		"negative passing defers too":   {-3, []string{"4"}, nil, 4},
		"empty tags and meta are fine":  {0, []string{}, map[string]string{}, 1},
		"whitespace around the numbers": {0, []string{" 6 "}, nil, 6},
	} {
		t.Run(name, func(t *testing.T) { run(t, tc) })
	}
}

func TestAddr(t *testing.T) {
	for _, tc := range []struct {
		in   Instance
		want string
	}{
		{Instance{Address: "127.0.0.1", Port: 5726}, "127.0.0.1:5726"},
		{Instance{Address: "::1", Port: 80}, "[::1]:80"},
		{Instance{Address: "users.local"}, "users.local:0"},
	} {
		if got := tc.in.Addr(); got != tc.want {
			t.Errorf("Addr() = %q, want %q", got, tc.want)
		}
	}
}
