// Command pulumi-resource-docker is the resource plugin. Its schema is generated at build time by
// cmd/pulumi-tfgen-docker into schema.json (see build_docker_provider in scripts/bootstrap).
package main

import (
	_ "embed"

	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge"

	provider "github.com/terraform-providers/terraform-provider-docker/k2pulumi"
)

//go:embed schema.json
var schema []byte

func main() {
	tfbridge.Main("docker", provider.Version, provider.Provider(), schema)
}
