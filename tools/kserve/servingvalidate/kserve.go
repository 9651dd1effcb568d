package main

import (
	"context"
	"fmt"
	"os"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
	"sigs.k8s.io/yaml"

	"github.com/kserve/kserve/pkg/apis/serving/v1beta1"
)

// kserveChecker runs an InferenceService through KServe's webhooks as the API server calls them on a
// create: the mutating one (InferenceServiceDefaulter.Default, here without a cluster: the ConfigMap is
// read from a file and no LocalModelCache exists), then the validating one (ValidateCreate).
type kserveChecker struct {
	decoder  admission.Decoder
	isvc     *v1beta1.InferenceServicesConfig
	deploy   *v1beta1.DeployConfig
	security *v1beta1.SecurityConfig
}

func newKserveChecker(configPath string) (*kserveChecker, error) {
	if configPath == "" {
		configPath = besideExecutable("inferenceservice-config.yaml")
	}
	data, err := os.ReadFile(configPath)
	if err != nil {
		return nil, fmt.Errorf("--kserve-config: %w", err)
	}
	configMap := &corev1.ConfigMap{}
	if err := yaml.Unmarshal(data, configMap); err != nil {
		return nil, fmt.Errorf("%s: not a ConfigMap: %w", configPath, err)
	}
	c := &kserveChecker{}
	if c.isvc, err = v1beta1.NewInferenceServicesConfig(configMap); err != nil {
		return nil, fmt.Errorf("%s: %w", configPath, err)
	}
	if c.deploy, err = v1beta1.NewDeployConfig(configMap); err != nil {
		return nil, fmt.Errorf("%s: %w", configPath, err)
	}
	if c.security, err = v1beta1.NewSecurityConfig(configMap); err != nil {
		return nil, fmt.Errorf("%s: %w", configPath, err)
	}
	scheme := runtime.NewScheme()
	if err := v1beta1.AddToScheme(scheme); err != nil {
		return nil, err
	}
	c.decoder = admission.NewDecoder(scheme) // the webhook's own decoder (lenient: unknown fields dropped)
	return c, nil
}

// check gives KServe's refusal of one InferenceService (JSON), if any.
func (c *kserveChecker) check(doc []byte) []string {
	isvc := &v1beta1.InferenceService{}
	if err := c.decoder.DecodeRaw(runtime.RawExtension{Raw: doc}, isvc); err != nil {
		return []string{fmt.Sprintf("cannot decode: %v", err)}
	}
	isvc.DefaultInferenceService(c.isvc, c.deploy, c.security, nil)
	if _, err := (&v1beta1.InferenceServiceValidator{}).ValidateCreate(context.Background(), isvc); err != nil {
		return []string{err.Error()}
	}
	return nil
}
