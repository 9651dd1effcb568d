// Command serving-validate runs KServe's and Knative Serving's own admission rules on YAML files, with no
// cluster: an oracle for ml-gen's offline `validate` of `target: kserve` and `target: knative`.
//
//	serving-validate [--kserve-config FILE] [--knative-feature KEY=VALUE]... FILE... [--knative-feature ...] FILE...
//
// Each object of each file (multi-document YAML, `-` for stdin) gives one JSON line on stdout:
// {"file", "index", "kind", "name", "checked", "ok", "errors"}. An InferenceService
// (serving.kserve.io/v1beta1) goes through KServe's mutating then validating webhook code
// (InferenceServiceDefaulter's defaulting with the inferenceservice-config ConfigMap, then
// InferenceServiceValidator.ValidateCreate); a Knative Service (serving.knative.dev/v1) through Knative's
// (SetDefaults, then Validate, in a create with the config-defaults, config-features and config-autoscaler
// defaults). A Serverless InferenceService whose predictor is a custom container also gets the Knative
// Service KServe's controller makes of it (its predictor reconciler's pod spec and metadata, the
// KsvcReconciler's Service) checked the Knative way: Knative's webhook refuses that one when the
// controller creates it. Other objects are listed with "checked": false. Both webhooks decode leniently (unknown fields
// are dropped; the API server's CRD schema refuses them before a webhook sees the object), and so does this.
//
// --kserve-config: the inferenceservice-config ConfigMap (default: inferenceservice-config.yaml beside the
// executable, which scripts/install-tools copies from the kserve module). --knative-feature: a key of
// Knative's config-features ConfigMap (kubernetes.podspec-init-containers=enabled, ...); it applies to the
// files named after it.
//
// Exit status: 0 when every object is valid, 1 when some is not, 2 on bad input (unreadable file, not YAML,
// a bad flag or config).
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/go-logr/logr"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/yaml"
)

// verdict is one output line.
type verdict struct {
	File    string   `json:"file"`
	Index   int      `json:"index"`
	Kind    string   `json:"kind"`
	Name    string   `json:"name"`
	Checked bool     `json:"checked"`
	OK      bool     `json:"ok"`
	Errors  []string `json:"errors"`
}

func main() {
	logf.SetLogger(logr.Discard()) // KServe's webhook code logs each call; the verdicts say what matters
	code, err := run(os.Args[1:], os.Stdin, os.Stdout)
	if err != nil {
		fmt.Fprintf(os.Stderr, "serving-validate: %v\n", err)
	}
	os.Exit(code)
}

func run(args []string, stdin io.Reader, stdout io.Writer) (int, error) {
	kserveConfig, knativeFeatures, files := "", map[string]string{}, 0
	var kserve *kserveChecker
	out := json.NewEncoder(stdout)
	allOK := true
	for i := 0; i < len(args); i++ {
		arg := args[i]
		switch {
		case arg == "--kserve-config" || arg == "--knative-feature":
			if i+1 == len(args) {
				return 2, fmt.Errorf("%s needs a value", arg)
			}
			i++
			if arg == "--kserve-config" {
				kserveConfig, kserve = args[i], nil
				continue
			}
			key, value, ok := strings.Cut(args[i], "=")
			if !ok || key == "" {
				return 2, fmt.Errorf("--knative-feature %q: give KEY=VALUE", args[i])
			}
			knativeFeatures = copyWith(knativeFeatures, key, value)
		case strings.HasPrefix(arg, "-") && arg != "-":
			return 2, fmt.Errorf("unknown flag %q", arg)
		default:
			files++
			if kserve == nil {
				var err error
				if kserve, err = newKserveChecker(kserveConfig); err != nil {
					return 2, err
				}
			}
			knative, err := newKnativeChecker(knativeFeatures)
			if err != nil {
				return 2, err
			}
			verdicts, err := checkFile(arg, stdin, kserve, knative)
			if err != nil {
				return 2, err
			}
			for _, v := range verdicts {
				allOK = allOK && v.OK
				if err := out.Encode(v); err != nil {
					return 2, err
				}
			}
		}
	}
	if files == 0 {
		return 2, errors.New("no files given (usage: serving-validate [--kserve-config FILE] [--knative-feature KEY=VALUE]... FILE...)")
	}
	if !allOK {
		return 1, nil
	}
	return 0, nil
}

func copyWith(m map[string]string, key, value string) map[string]string {
	c := make(map[string]string, len(m)+1)
	for k, v := range m {
		c[k] = v
	}
	c[key] = value
	return c
}

// checkFile gives a verdict for each object of one file; an error only for a file that cannot be read
// or parsed (every document of it is read before any verdict).
func checkFile(path string, stdin io.Reader, kserve *kserveChecker, knative *knativeChecker) ([]verdict, error) {
	var in io.Reader = stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		in = f
	}
	docs, err := documents(in)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	verdicts := make([]verdict, 0, len(docs))
	for index, doc := range docs {
		var head struct {
			metav1.TypeMeta `json:",inline"`
			Metadata        struct {
				Name string `json:"name"`
			} `json:"metadata"`
		}
		if err := json.Unmarshal(doc, &head); err != nil {
			return nil, fmt.Errorf("%s: document %d: not an object: %w", path, index, err)
		}
		v := verdict{File: path, Index: index, Kind: head.Kind, Name: head.Metadata.Name, OK: true, Errors: []string{}}
		var problems []string
		switch {
		case head.APIVersion == "serving.kserve.io/v1beta1" && head.Kind == "InferenceService":
			v.Checked, problems = true, kserve.check(doc, knative)
		case head.APIVersion == "serving.knative.dev/v1" && head.Kind == "Service":
			v.Checked, problems = true, knative.check(doc)
		}
		if len(problems) > 0 {
			v.OK, v.Errors = false, problems
		}
		verdicts = append(verdicts, v)
	}
	return verdicts, nil
}

// documents splits multi-document YAML into each non-empty document as JSON.
func documents(in io.Reader) ([][]byte, error) {
	reader := utilyaml.NewYAMLReader(bufio.NewReader(in))
	var docs [][]byte
	for {
		raw, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, err
		}
		doc, err := yaml.YAMLToJSON(raw)
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", len(docs), err)
		}
		if s := strings.TrimSpace(string(doc)); s == "null" || s == "" {
			continue
		}
		docs = append(docs, doc)
	}
}

// besideExecutable is a file next to this program (through its symlink in the tools' bin/).
func besideExecutable(name string) string {
	exe, err := os.Executable()
	if err != nil {
		return name
	}
	if resolved, err := filepath.EvalSymlinks(exe); err == nil {
		exe = resolved
	}
	return filepath.Join(filepath.Dir(exe), name)
}
