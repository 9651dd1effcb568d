// The local cluster's pod sandbox ("pause") program (see scripts/install-tools).
module ml-gen.local/tools/pause

go 1.26.0
