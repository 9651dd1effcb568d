package main

import (
	"context"
	"fmt"

	authenticationv1 "k8s.io/api/authentication/v1"
	"knative.dev/pkg/apis"
	knativejson "knative.dev/pkg/webhook/json"
	"knative.dev/serving/pkg/apis/config"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"
	autoscalerconfig "knative.dev/serving/pkg/autoscaler/config"
)

// knativeChecker runs a Knative Service through Knative Serving's webhooks as the API server calls them on
// a create: defaulting (SetDefaults), then validation (Validate), with the config-defaults and
// config-autoscaler defaults and the given config-features in the context, as the webhooks' config store
// puts them there. The validation webhook's dry-run callback (kubernetes.podspec-dryrun) needs a cluster
// and is off unless a Service asks for it; ml-gen's never do.
type knativeChecker struct {
	config *config.Config
}

func newKnativeChecker(features map[string]string) (*knativeChecker, error) {
	f, err := config.NewFeaturesConfigFromMap(features)
	if err != nil {
		return nil, fmt.Errorf("--knative-feature: %w", err)
	}
	d, err := config.NewDefaultsConfigFromMap(map[string]string{})
	if err != nil {
		return nil, err
	}
	a, err := autoscalerconfig.NewConfigFromMap(map[string]string{})
	if err != nil {
		return nil, err
	}
	return &knativeChecker{config: &config.Config{Defaults: d, Features: f, Autoscaler: a}}, nil
}

// check gives Knative's refusal of one Service (JSON), if any.
func (c *knativeChecker) check(doc []byte) []string {
	service := &servingv1.Service{}
	if err := knativejson.Decode(doc, service, false); err != nil { // the webhooks' decoding: lenient
		return []string{fmt.Sprintf("cannot decode: %v", err)}
	}
	return c.checkService(service)
}

// checkService gives Knative's refusal of one decoded Service, if any.
func (c *knativeChecker) checkService(service *servingv1.Service) []string {
	ctx := config.ToContext(context.Background(), c.config)
	ctx = apis.WithUserInfo(ctx, &authenticationv1.UserInfo{Username: "serving-validate"})
	ctx = apis.WithinCreate(ctx)
	service.SetDefaults(ctx)
	errs := service.Validate(ctx).Filter(apis.ErrorLevel)
	if errs == nil {
		return nil
	}
	problems := []string{}
	for _, e := range errs.WrappedErrors() {
		problems = append(problems, e.Error())
	}
	return problems
}
