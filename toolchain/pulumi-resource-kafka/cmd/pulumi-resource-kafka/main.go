// Command pulumi-resource-kafka is the resource plugin. It embeds schema.json, which cmd/pulumi-tfgen-kafka
// generates from the provider's code; the file is committed so that a build compiles this plugin alone.
// Regenerate it after changing go.mod or provider.go: K2_REGENERATE_SCHEMAS=1 scripts/bootstrap docker.
package main

import (
	_ "embed"

	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge"

	provider "k2/toolchain/pulumi-resource-kafka"
)

//go:embed schema.json
var schema []byte

func main() {
	tfbridge.Main("kafka", provider.Version, provider.Provider(), schema)
}
