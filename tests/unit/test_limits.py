"""limits: the API server's and etcd's size limits, counted as they count them."""

from __future__ import annotations

import pytest

from ml_gen.k8s import limits


def _obj(kind: str = "Service", annotations: dict | None = None, **extra) -> dict:
    return {"kind": kind, "metadata": {"name": "x", "annotations": annotations or {}}, **extra}


def test_annotations_count_keys_and_values_in_utf8_bytes():
    assert limits.annotations_size({"a/b": "é"}) == 3 + 2


@pytest.mark.parametrize(("extra", "over"), [(0, False), (1, True)])
def test_annotations_limit_is_256_kib_per_map(extra, over):
    annotations = {"k": "x" * (limits.ANNOTATIONS_LIMIT - 1 + extra)}
    problems = limits.problems(_obj(annotations=annotations))
    assert bool(problems) == over
    if over:
        assert problems[0][0] == "annotations" and "262145 bytes" in problems[0][1]


def test_the_pod_template_annotations_count_separately():
    half = {"k": "x" * (limits.ANNOTATIONS_LIMIT // 2)}
    deployment = _obj("Deployment", half, spec={"template": {"metadata": {"annotations": half}}})
    assert limits.problems(deployment) == []
    big = {"k": "x" * limits.ANNOTATIONS_LIMIT}
    deployment["spec"]["template"]["metadata"]["annotations"] = big
    (problem,) = limits.problems(deployment)
    assert "spec.template.metadata.annotations of Deployment/x" in problem[1]


@pytest.mark.parametrize(("extra", "over"), [(0, False), (1, True)])
def test_a_configmap_holds_1_mib_of_contents(extra, over):
    """Only the values count (ValidateConfigMap), not the keys: the differential test found that out."""
    data = {"a.json": "x" * (limits.CONFIGMAP_LIMIT - 1000), "b.json": "x" * (1000 + extra)}
    problems = limits.problems(_obj("ConfigMap", data=data))
    assert bool(problems) == over
    if over:
        assert problems[0][0] == "data"


def test_an_object_over_the_etcd_request_limit_is_refused():
    env = [{"name": "BIG", "value": "x" * limits.OBJECT_LIMIT}]
    deployment = _obj("Deployment", spec={"template": {"metadata": {}, "spec": {"containers": [{"env": env}]}}})
    (problem,) = limits.problems(deployment)
    assert problem[0] == "object" and "etcd" in problem[1]


def test_an_objects_size_counts_utf8_bytes_not_json_escapes():
    assert limits.object_size({"a": "é"}) == len('{"a":"é"}'.encode())  # 10 bytes; as \u00e9 it would be 14


@pytest.mark.parametrize(("extra", "over"), [(0, False), (1, True)])
def test_an_object_of_exactly_the_etcd_limit_is_accepted(extra, over):
    service = _obj(spec={"pad": ""})
    service["spec"]["pad"] = "x" * (limits.OBJECT_LIMIT - limits.object_size(service) + extra)
    problems = limits.problems(service)
    assert bool(problems) == over
    if over:
        assert problems == [("object", f"Service/x would be {limits.OBJECT_LIMIT + 1} bytes; etcd stores "
                             f"objects up to {limits.OBJECT_LIMIT} (1.5 MiB)")]  # fmt: skip


def test_a_configmap_over_the_etcd_limit_through_its_keys_names_config_files():
    """Keys do not count towards the 1 MiB of contents, but they do towards the object's size."""
    data = {f"{n:0>250}.json": "x" for n in range(7000)}  # 1.8 MB of keys, 7 kB of contents
    (problem,) = limits.problems(_obj("ConfigMap", data=data))
    assert problem[0] == "object" and "etcd" in problem[1]
