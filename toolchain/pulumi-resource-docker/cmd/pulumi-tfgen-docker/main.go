// Command pulumi-tfgen-docker writes the provider's Pulumi schema (`schema --out DIR`).
package main

import (
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfgen"

	provider "github.com/terraform-providers/terraform-provider-docker/k2pulumi"
)

func main() {
	tfgen.Main("docker", provider.Version, provider.Provider())
}
