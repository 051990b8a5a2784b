// Command pulumi-resource-kafka is the resource plugin. Its schema is generated at build time by
// cmd/pulumi-tfgen-kafka into schema.json (see toolchain/build.sh).
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
