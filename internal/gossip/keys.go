package gossip

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
)

// keySize is the size of the keys GenerateKey makes: AES-256, as `consul
// keygen`.
const keySize = 32

// GenerateKey returns a new gossip encryption key for `muster keygen` and
// -encrypt: the standard base64 encoding of 32 random bytes.
func GenerateKey() (string, error) {
	key := make([]byte, keySize)
	if _, err := rand.Read(key); err != nil {
		return "", fmt.Errorf("gossip: generate key: %w", err)
	}
	return base64.StdEncoding.EncodeToString(key), nil
}

// DecodeKey parses a base64 key as GenerateKey writes it (and as Consul's
// -encrypt takes it). The errors wrap ErrInvalidKey and say whether the
// base64 or the length is wrong; they never include the key.
func DecodeKey(s string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%w: not valid base64 (%v)", ErrInvalidKey, err)
	}
	if err := checkKeyLen(len(key)); err != nil {
		return nil, err
	}
	return key, nil
}

// checkKeyLen accepts the AES-128, AES-192 and AES-256 key sizes memberlist
// supports.
func checkKeyLen(n int) error {
	switch n {
	case 16, 24, 32:
		return nil
	}
	return fmt.Errorf("%w: must decode to 16, 24 or 32 bytes, got %d", ErrInvalidKey, n)
}
