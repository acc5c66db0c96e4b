// spiffe-check verifies an X.509 SVID with go-spiffe, a SPIFFE implementation not written by cairn:
// spiffe-check TRUST_DOMAIN BUNDLE_PEM SVID_PEM prints the SPIFFE ID and exits 0, or prints why the
// SVID is refused and exits 1. cairn's tests run it on the SVIDs cairn issues (docs/identity.md).
package main

import (
	"encoding/pem"
	"fmt"
	"os"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
)

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: spiffe-check TRUST_DOMAIN BUNDLE_PEM SVID_PEM")
		os.Exit(2)
	}
	id, err := check(os.Args[1], os.Args[2], os.Args[3])
	if err != nil {
		fmt.Println("refused:", err)
		os.Exit(1)
	}
	fmt.Println(id)
}

func check(trustDomain, bundlePath, svidPath string) (string, error) {
	td, err := spiffeid.TrustDomainFromString(trustDomain)
	if err != nil {
		return "", err
	}
	bundle, err := x509bundle.Load(td, bundlePath)
	if err != nil {
		return "", err
	}
	raw, err := os.ReadFile(svidPath)
	if err != nil {
		return "", err
	}
	var chain [][]byte
	for block, rest := pem.Decode(raw); block != nil; block, rest = pem.Decode(rest) {
		chain = append(chain, block.Bytes)
	}
	id, _, err := x509svid.ParseAndVerify(chain, bundle)
	if err != nil {
		return "", err
	}
	return id.String(), nil
}
