package main

import (
	"context"
	"fmt"
	"os"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	knservingv1 "knative.dev/serving/pkg/apis/serving/v1"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
	"sigs.k8s.io/yaml"

	"github.com/kserve/kserve/pkg/apis/serving/v1beta1"
	"github.com/kserve/kserve/pkg/constants"
	"github.com/kserve/kserve/pkg/controller/v1beta1/inferenceservice/reconcilers/knative"
	"github.com/kserve/kserve/pkg/utils"
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

// check gives KServe's refusal of one InferenceService (JSON), if any, then, for a Serverless custom
// predictor, Knative's refusal of the Knative Service KServe's controller makes of it.
func (c *kserveChecker) check(doc []byte, kn *knativeChecker) []string {
	isvc := &v1beta1.InferenceService{}
	if err := c.decoder.DecodeRaw(runtime.RawExtension{Raw: doc}, isvc); err != nil {
		return []string{fmt.Sprintf("cannot decode: %v", err)}
	}
	isvc.DefaultInferenceService(c.isvc, c.deploy, c.security, nil)
	if _, err := (&v1beta1.InferenceServiceValidator{}).ValidateCreate(context.Background(), isvc); err != nil {
		return []string{err.Error()}
	}
	mode := isvc.Annotations[constants.DeploymentMode]
	if mode != "" && mode != string(constants.Serverless) || isvc.Spec.Predictor.Model != nil {
		return nil // RawDeployment (a Deployment: the API server checks its pods); a runtime's pod needs its ServingRuntime
	}
	service, problem := c.serverlessPredictor(isvc)
	if problem != "" {
		return []string{problem}
	}
	var problems []string
	for _, p := range kn.checkService(service) {
		problems = append(problems, fmt.Sprintf("Knative Service %s (KServe's controller makes it): %s", service.Name, p))
	}
	return problems
}

// serverlessPredictor is the Knative Service KServe's controller makes for a custom predictor (as
// components.Predictor.Reconcile and knative.NewKsvcReconciler do; ml-gen sets no logger, batcher, agent or
// storage spec, whose annotations are left out), or why it cannot make one.
func (c *kserveChecker) serverlessPredictor(isvc *v1beta1.InferenceService) (*knservingv1.Service, string) {
	allowed := func(key string) bool { return !utils.Includes(c.isvc.ServiceAnnotationDisallowedList, key) }
	annotations := utils.Filter(isvc.Annotations, allowed)
	predictor := isvc.Spec.Predictor.GetImplementation()
	if uri := predictor.GetStorageUri(); uri != nil {
		annotations[constants.StorageInitializerSourceUriInternalAnnotationKey] = *uri
	}
	container := predictor.GetContainer(isvc.ObjectMeta, isvc.Spec.Predictor.GetExtensions(), c.isvc)
	if container == nil {
		return nil, fmt.Sprintf("KServe's controller finds no predictor container named %s", constants.InferenceServiceContainerName)
	}
	podSpec := corev1.PodSpec(isvc.Spec.Predictor.PodSpec)
	podSpec.Containers = append([]corev1.Container{}, podSpec.Containers...)
	if len(podSpec.Containers) == 0 {
		podSpec.Containers = []corev1.Container{*container}
	} else {
		podSpec.Containers[0] = *container
	}
	meta := metav1.ObjectMeta{
		Name:      constants.PredictorServiceName(isvc.Name),
		Namespace: isvc.Namespace,
		Labels: utils.Union(isvc.Labels, isvc.Spec.Predictor.Labels, map[string]string{
			constants.InferenceServicePodLabelKey: isvc.Name,
			constants.KServiceComponentLabel:      string(v1beta1.PredictorComponent),
		}),
		Annotations: utils.Union(annotations, utils.Filter(isvc.Spec.Predictor.Annotations, allowed)),
	}
	reconciler := knative.NewKsvcReconciler(nil, nil, meta, &isvc.Spec.Predictor.ComponentExtensionSpec, &podSpec,
		isvc.Status.Components[v1beta1.PredictorComponent], c.isvc.ServiceLabelDisallowedList)
	return reconciler.Service, ""
}
