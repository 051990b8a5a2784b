// Command pulumi-resource-docker is the resource plugin. It embeds schema.json, which cmd/pulumi-tfgen-docker
// generates from the provider's code; the file is committed so that a build compiles this plugin alone.
// Regenerate it after changing go.mod or provider.go: K2_REGENERATE_SCHEMAS=1 scripts/bootstrap docker.
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
