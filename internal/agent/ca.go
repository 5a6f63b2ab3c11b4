package agent

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"strings"
	"time"
)

// caRoot is one root of /v1/agent/connect/ca/roots, Consul's shape.
type caRoot struct {
	ID                  string
	Name                string
	SerialNumber        uint64
	SigningKeyID        string
	ExternalTrustDomain string
	NotBefore           time.Time
	NotAfter            time.Time
	RootCert            string
	IntermediateCerts   []string
	Active              bool
	PrivateKeyType      string
	PrivateKeyBits      int
	CreateIndex         uint64
	ModifyIndex         uint64
}

type caRoots struct {
	ActiveRootID string
	TrustDomain  string
	Roots        []caRoot
}

// newCARoots makes a real self-signed ECDSA root, so that Consul clients and
// test harnesses that wait for the Connect CA find one. muster does not
// implement Connect; the root signs nothing.
func newCARoots(clusterID string) (*caRoots, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("agent: ca key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		return nil, fmt.Errorf("agent: ca serial: %w", err)
	}
	trust := clusterID + ".consul"
	now := time.Now().UTC()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "muster CA Primary Cert"},
		URIs:                  nil,
		NotBefore:             now.Add(-time.Minute),
		NotAfter:              now.AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("agent: ca cert: %w", err)
	}
	sum := sha256.Sum256(der)
	keyID := colonHex(sum[:20])
	root := caRoot{
		ID:             colonHex(sum[:]),
		Name:           "muster CA Primary Cert",
		SerialNumber:   serial.Uint64(),
		SigningKeyID:   keyID,
		NotBefore:      tmpl.NotBefore,
		NotAfter:       tmpl.NotAfter,
		RootCert:       string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		Active:         true,
		PrivateKeyType: "ec",
		PrivateKeyBits: 256,
		CreateIndex:    1,
		ModifyIndex:    1,
	}
	return &caRoots{ActiveRootID: root.ID, TrustDomain: trust, Roots: []caRoot{root}}, nil
}

func colonHex(b []byte) string {
	parts := make([]string, len(b))
	for i, c := range b {
		parts[i] = fmt.Sprintf("%02x", c)
	}
	return strings.Join(parts, ":")
}
