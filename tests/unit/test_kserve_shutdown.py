"""target: kserve keeps the deployment target's graceful shutdown in RawDeployment (KServe makes a plain
Deployment of the predictor) and leaves it out in Serverless (Knative refuses a lifecycle hook)."""

from __future__ import annotations

import pytest

from ml_gen import config, render
from ml_gen.errors import ConfigError

PRE_STOP = {"preStop": {"sleep": {"seconds": 10}}}
MODEL = {"uri": "s3://models/demo/1/", "framework": "sklearn"}


def _predictor(render_env, **top):
    isvc = render_env(target="kserve", shutdownDelaySeconds=10, terminationGracePeriodSeconds=45, **top)
    return isvc.get("InferenceService")["spec"]["predictor"]


def test_a_raw_deployment_container_stops_like_a_deployment(render_env):
    predictor = _predictor(render_env)
    assert predictor["containers"][0]["lifecycle"] == PRE_STOP
    assert predictor["terminationGracePeriodSeconds"] == 45


def test_a_raw_deployment_standard_runtime_gets_the_pre_stop_through_its_model_container(render_env):
    predictor = _predictor(render_env, kserve={"predictor": "model"}, model=MODEL, networkPolicy={"enabled": False})
    assert predictor["model"]["lifecycle"] == PRE_STOP
    assert predictor["terminationGracePeriodSeconds"] == 45


def test_no_delay_renders_no_lifecycle(render_env):
    predictor = render_env(target="kserve").get("InferenceService")["spec"]["predictor"]
    assert "lifecycle" not in predictor["containers"][0]


@pytest.mark.parametrize(
    "top, message",
    [
        ({"kserve": {"deploymentMode": "Serverless"}, "networkPolicy": {"enabled": False}}, "Knative refuses"),
        ({"terminationGracePeriodSeconds": 10}, "no time to stop"),
    ],
)
def test_a_delay_kserve_cannot_honour_is_refused(config_text, top, message):
    loaded = config.parse(config_text(target="kserve", shutdownDelaySeconds=10, **top), "m.yaml")
    with pytest.raises(ConfigError, match=message) as caught:
        render.render_environment(loaded, "prod")
    assert "shutdownDelaySeconds" in str(caught.value)
