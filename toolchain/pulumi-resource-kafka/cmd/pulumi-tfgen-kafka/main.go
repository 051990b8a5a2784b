// Command pulumi-tfgen-kafka writes the provider's Pulumi schema (`schema --out DIR`).
package main

import (
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfgen"

	provider "k2/toolchain/pulumi-resource-kafka"
)

func main() {
	tfgen.Main("kafka", provider.Version, provider.Provider())
}
