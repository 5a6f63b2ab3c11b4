package gossip

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

func TestGenerateKeyRoundTrip(t *testing.T) {
	t.Parallel()
	s1, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	s2, _ := GenerateKey()
	if s1 == s2 {
		t.Fatal("two generated keys are equal")
	}
	k, err := DecodeKey(s1)
	if err != nil {
		t.Fatalf("DecodeKey(GenerateKey()) = %v", err)
	}
	if len(k) != 32 || base64.StdEncoding.EncodeToString(k) != s1 {
		t.Fatalf("round trip gave %d bytes", len(k))
	}
}

func TestDecodeKey(t *testing.T) {
	t.Parallel()
	type testcase struct {
		in      string
		wantLen int    // 0: want an error
		wantErr string // part of the error text
	}
	run := func(t *testing.T, tc testcase) {
		k, err := DecodeKey(tc.in)
		if tc.wantLen > 0 {
			if err != nil || len(k) != tc.wantLen {
				t.Fatalf("DecodeKey = %d bytes, %v; want %d bytes", len(k), err, tc.wantLen)
			}
			return
		}
		if !errors.Is(err, ErrInvalidKey) || !strings.Contains(err.Error(), tc.wantErr) || !strings.HasPrefix(err.Error(), "gossip: ") {
			t.Fatalf("DecodeKey = %v; want ErrInvalidKey mentioning %q", err, tc.wantErr)
		}
		if strings.Contains(err.Error(), tc.in) && tc.in != "" {
			t.Fatalf("error %q repeats the key", err)
		}
	}
	b64 := func(n int) string { return base64.StdEncoding.EncodeToString(make([]byte, n)) }
	for name, tc := range map[string]testcase{
		"aes-128":   {in: b64(16), wantLen: 16},
		"aes-192":   {in: b64(24), wantLen: 24},
		"aes-256":   {in: b64(32), wantLen: 32},
		"not b64":   {in: "not base64!!", wantErr: "not valid base64"},
		"url b64":   {in: strings.ReplaceAll(strings.ReplaceAll(base64.StdEncoding.EncodeToString([]byte{0xfb, 0xff, 0xfe, 0xfb, 0xff, 0xfe, 0xfb, 0xff, 0xfe, 0xfb, 0xff, 0xfe, 0xfb, 0xff, 0xfe, 0xfb}), "+", "-"), "/", "_"), wantErr: "not valid base64"},
		"too short": {in: b64(10), wantErr: "got 10"},
		"too long":  {in: b64(33), wantErr: "got 33"},
		"empty":     {in: "", wantErr: "got 0"},
	} {
		t.Run(name, func(t *testing.T) { run(t, tc) })
	}
}
