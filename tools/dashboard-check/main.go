// dashboard-check: reads Grafana dashboard JSON files and checks each against Grafana's dashboard
// schema as the grafana-foundation-sdk generates it (cog, from Grafana's own schema): strict decoding
// (unknown, missing or mistyped fields fail; panel options and queries by their plugin's types), then
// the SDK's Validate. Prints one line per file; exits 1 when any fails (see scripts/install-tools).
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/plugins"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

// real: the SDK returns its error list (cog.BuildErrors) even when it is empty: that is no error.
func real(err error) error {
	var list cog.BuildErrors
	if errors.As(err, &list) && len(list) == 0 {
		return nil
	}
	return err
}

func check(path string) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var board dashboard.Dashboard
	if err := real(board.UnmarshalJSONStrict(raw)); err != nil {
		return err
	}
	return real(board.Validate())
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: dashboard-check FILE.json...")
		os.Exit(2)
	}
	plugins.RegisterDefaultPlugins()
	failed := false
	for _, path := range os.Args[1:] {
		if err := check(path); err != nil {
			fmt.Printf("%s: %v\n", path, err)
			failed = true
		} else {
			fmt.Printf("%s: ok\n", path)
		}
	}
	if failed {
		os.Exit(1)
	}
}
