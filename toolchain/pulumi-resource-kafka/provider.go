// Package provider maps the Terraform Kafka provider (Mongey) onto Pulumi tokens.
//
// Written here because the pulumi-kafka provider module is not served by the Go module proxy this
// machine reaches. The tokens and property names match the PyPI pulumi-kafka 3.13.3 SDK, which is
// what the K2 program imports: kafka:index/topic:Topic with name, partitions, replicationFactor, config.
package provider

import (
	"github.com/Mongey/terraform-provider-kafka/kafka"
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge"
	shimv2 "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfshim/sdk-v2"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"
)

// Version is stamped at build time to the version the Python SDK asks for.
var Version = "3.13.3"

func resource(module, name string) tokens.Type {
	lower := string(name[0]+('a'-'A')) + name[1:]
	return tokens.Type("kafka:" + module + "/" + lower + ":" + name)
}

func envDefault(value interface{}, vars ...string) *tfbridge.SchemaInfo {
	return &tfbridge.SchemaInfo{Default: &tfbridge.DefaultInfo{EnvVars: vars, Value: value}}
}

// Provider returns the bridge's description of the kafka provider.
func Provider() tfbridge.ProviderInfo {
	return tfbridge.ProviderInfo{
		P:                 shimv2.NewProvider(kafka.Provider()),
		Name:              "kafka",
		Version:           Version,
		GitHubOrg:         "Mongey",
		Description:       "Kafka topics, ACLs and quotas (K2 build of the Mongey Terraform provider).",
		License:           "Apache-2.0",
		TFProviderLicense: ref(tfbridge.MITLicenseType),
		Config: map[string]*tfbridge.SchemaInfo{
			"sasl_mechanism":  envDefault("plain", "KAFKA_SASL_MECHANISM"),
			"skip_tls_verify": envDefault(false, "KAFKA_SKIP_VERIFY"),
			"tls_enabled":     envDefault(true, "KAFKA_ENABLE_TLS"),
		},
		Resources: map[string]*tfbridge.ResourceInfo{
			"kafka_topic": {Tok: resource("index", "Topic")},
			"kafka_acl": {Tok: resource("index", "Acl"), Fields: map[string]*tfbridge.SchemaInfo{
				"resource_name": {Name: "aclResourceName"},
				"resource_type": {Name: "aclResourceType"},
			}},
			"kafka_quota":                 {Tok: resource("index", "Quota")},
			"kafka_user_scram_credential": {Tok: resource("index", "UserScramCredential"), Docs: noDocs},
		},
		DataSources: map[string]*tfbridge.DataSourceInfo{
			"kafka_topic":  {Tok: "kafka:index/getTopic:getTopic", Docs: noDocs},
			"kafka_topics": {Tok: "kafka:index/getTopics:getTopics", Docs: noDocs},
		},
		Python: &tfbridge.PythonInfo{Requires: map[string]string{"pulumi": ">=3.0.0,<4.0.0"}},
	}
}

// Docs are not generated here (no upstream repository to read them from).
var noDocs = &tfbridge.DocInfo{Markdown: []byte(" ")}

func ref(l tfbridge.TFProviderLicense) *tfbridge.TFProviderLicense { return &l }
