// The checker of the Grafana dashboards ml-gen renders (scripts/install-tools), against the schema types
// of the grafana-foundation-sdk (tools/versions.env pins its version).
module ml-gen.local/tools/dashboard-check

go 1.26.0

require github.com/grafana/grafana-foundation-sdk/go v0.0.22
