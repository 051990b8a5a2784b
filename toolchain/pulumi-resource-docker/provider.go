// Package provider maps the Terraform Docker provider (kreuzwerker) onto Pulumi tokens.
//
// Written here because the pulumi-docker provider module is not served by the Go module proxy this
// machine reaches (and its build patches an upstream checkout). The tokens and property names match
// the PyPI pulumi-docker 4.11.2 SDK, which is what the K2 program imports; the mapping mirrors
// pulumi-docker v4.11.2's provider/resources.go, less its native `docker.Image` resource (a Go
// implementation of image builds that K2 does not use) and its documentation edits.
//
// Only the provider's SDKv2 half is bridged. Upstream muxes it with a plugin-framework provider that
// holds docker_compose, two data sources (docker_containers, docker_registry_image_tags) and actions:
// none of them exists in the 4.11.2 SDK either, so no pf/mux is needed.
package provider

import (
	"context"
	_ "embed"
	"runtime"

	"github.com/hashicorp/terraform-plugin-sdk/v2/helper/schema"
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge"
	tfbridgetokens "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge/tokens"
	shimv2 "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfshim/sdk-v2"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"

	upstream "github.com/terraform-providers/terraform-provider-docker/internal/provider"
)

// Version is the version the Python SDK asks for (pulumi_docker/pulumi-plugin.json).
var Version = "4.11.2"

const (
	dockerPkg = "docker"
	dockerMod = "index"
)

func dockerResource(mod, res string) tokens.Type {
	fn := string(res[0]+('a'-'A')) + res[1:]
	return tokens.Type(dockerPkg + ":" + mod + "/" + fn + ":" + res)
}

func dockerDataSource(mod, fn string) tokens.ModuleMember {
	return tokens.ModuleMember(dockerPkg + ":" + mod + "/" + fn + ":" + fn)
}

func defaultDockerHost() string {
	if runtime.GOOS == "windows" {
		return "npipe:////./pipe/docker_engine"
	}
	return "unix:///var/run/docker.sock"
}

// Provider returns the bridge's description of the docker provider.
func Provider() tfbridge.ProviderInfo {
	prov := tfbridge.ProviderInfo{
		P:                 shimv2.NewProvider(upstreamProvider()),
		Name:              dockerPkg,
		Version:           Version,
		GitHubOrg:         "kreuzwerker",
		Description:       "Docker containers, networks, images and volumes (K2 build of the kreuzwerker Terraform provider).",
		Keywords:          []string{"pulumi", "docker"},
		License:           "Apache-2.0",
		TFProviderLicense: ref(tfbridge.MPL20LicenseType),
		Config: map[string]*tfbridge.SchemaInfo{
			"host": {Default: &tfbridge.DefaultInfo{
				EnvVars: []string{"DOCKER_HOST"},
				ComputeDefault: func(context.Context, tfbridge.ComputeDefaultOptions) (interface{}, error) {
					return defaultDockerHost(), nil
				},
			}},
			// Not pluralised by the SDK, and a list even though the bridge could flatten it.
			"registry_auth": {Name: "registryAuth", MaxItemsOne: tfbridge.False()},
		},
		Resources: map[string]*tfbridge.ResourceInfo{
			"docker_config": {Tok: dockerResource(dockerMod, "ServiceConfig")},
			"docker_container": {
				Tok:                 dockerResource(dockerMod, "Container"),
				DeleteBeforeReplace: true,
				Fields: map[string]*tfbridge.SchemaInfo{
					// A list that is one command: the SDK does not pluralise it ("commands").
					"command": {Name: "command"},
					// A list the bridge would otherwise call "networksAdvanceds".
					"networks_advanced": {Name: "networksAdvanced"},
				},
			},
			"docker_image": {
				Tok:    dockerResource(dockerMod, "RemoteImage"),
				Fields: map[string]*tfbridge.SchemaInfo{"name": {Name: "name"}},
			},
			"docker_network":        {Tok: dockerResource(dockerMod, "Network")},
			"docker_secret":         {Tok: dockerResource(dockerMod, "Secret")},
			"docker_service":        {Tok: dockerResource(dockerMod, "Service")},
			"docker_volume":         {Tok: dockerResource(dockerMod, "Volume")},
			"docker_registry_image": {Tok: dockerResource(dockerMod, "RegistryImage")},
			"docker_plugin":         {Tok: dockerResource(dockerMod, "Plugin")},
			"docker_tag":            {Tok: dockerResource(dockerMod, "Tag")},
		},
		DataSources: map[string]*tfbridge.DataSourceInfo{
			"docker_network":        {Tok: dockerDataSource(dockerMod, "getNetwork")},
			"docker_registry_image": {Tok: dockerDataSource(dockerMod, "getRegistryImage")},
			"docker_plugin":         {Tok: dockerDataSource(dockerMod, "getPlugin")},
			"docker_image":          {Tok: dockerDataSource(dockerMod, "getRemoteImage")},
			"docker_logs":           {Tok: dockerDataSource(dockerMod, "getLogs")},
		},
		Python: &tfbridge.PythonInfo{Requires: map[string]string{"pulumi": ">=3.0.0,<4.0.0"}},
		// The shape decisions (which one-element lists are flattened) that pulumi-docker 4.11.2 recorded
		// while its SDK was generated: without them the bridge would decide afresh from today's upstream.
		MetadataInfo: tfbridge.NewProviderMetadata(metadata),
	}
	// The rest (docker_buildx_builder, docker_registry_image_manifests, ...) as pulumi-docker names them.
	prov.MustComputeTokens(tfbridgetokens.SingleModule("docker_", dockerMod, tfbridgetokens.MakeStandard(dockerPkg)))
	prov.MustApplyAutoAliases()
	// Like pulumi-docker: a resource whose `name` is not given gets "<resource name>-<random>".
	prov.SetAutonaming(255, "-")
	return prov
}

// upstreamProvider is the Terraform provider with one K2 change to its schema: docker_network's
// ipam_options becomes Optional+Computed. Podman's Docker API reports IPAM options the program did not
// set ({"driver": "host-local"}); with a plain Optional+ForceNew attribute every later `up` would
// replace the network (and the containers on it). Docker reports none, so there nothing changes.
func upstreamProvider() *schema.Provider {
	p := upstream.New(Version)()
	p.ResourcesMap["docker_network"].Schema["ipam_options"].Computed = true
	return p
}

//go:embed bridge-metadata.json
var metadata []byte

func ref(l tfbridge.TFProviderLicense) *tfbridge.TFProviderLicense { return &l }
