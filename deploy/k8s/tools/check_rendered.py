"""Checks on the rendered overlays that neither kubernetes-validate nor checkov make.

Run by scripts/k8s-check with the tools' venv (PyYAML, jsonschema):
    python deploy/k8s/tools/check_rendered.py var/k8s-check/rendered/*.yaml

1. SecretProviderClass has no schema in kubernetes-validate (it is a CRD of the
   Secrets Store CSI driver). It is checked here against a schema written from the
   driver's CRD (secrets-store.csi.x-k8s.io/v1; unknown fields refused, as the API
   server's strict field validation would) plus what the AWS provider needs in
   `parameters`. This is a hand copy, not the CRD itself: docs/kubernetes.md says so.
2. Release invariants: every image is <repo>:<tag>@sha256:<digest> with a real tag
   (never `latest`), the migrations Job is named chairtime-migrate-<tag>, and it runs
   with the web pods' image, service account, settings and secrets.
3. No Kubernetes Secret objects and nothing that looks like an AWS access key.
4. The message worker (Deployment chairtime-worker) runs the release's image with the
   web pods' identity, settings, secrets and securityContext; it has startup,
   readiness and liveness probes, a grace period, a PodDisruptionBudget wherever the
   web pods have one, and its own NetworkPolicy: no ingress, egress only to DNS, the
   Pod Identity agent, HTTPS (SES, STS), the database and SMTP submission; the web
   pods' policy does not select it.
5. SecurityGroupPolicy (vpcresources.k8s.aws/v1beta1, the EKS VPC resource controller's
   CRD, not in kubernetes-validate either) against a schema written from that CRD
   (plus AWS's limit of five groups, and group ids that look like ids, so an overlay
   that did not set the id fails here); and every pod template that reaches the
   database or Redis (its containers take the app's settings, a ConfigMap with
   DATABASE_URL or REDIS_URL_FILE, or set those themselves) is selected by one: the
   database and Redis admit only the security group it names.
Prints one line per problem and exits 1 if there is any.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import jsonschema
import yaml

SECRET_PROVIDER_CLASS_SCHEMA = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "additionalProperties": False,
    "properties": {
        "apiVersion": {"const": "secrets-store.csi.x-k8s.io/v1"},
        "kind": {"const": "SecretProviderClass"},
        "metadata": {"type": "object", "required": ["name"]},
        "spec": {
            "type": "object",
            "additionalProperties": False,
            "required": ["provider", "parameters"],
            "properties": {
                "provider": {"const": "aws"},
                "parameters": {
                    "type": "object",
                    "additionalProperties": {"type": "string"},
                    "required": ["region", "objects"],
                    "properties": {
                        "region": {"type": "string", "pattern": r"^[a-z]{2}(-[a-z]+)+-\d$"},
                        "usePodIdentity": {"enum": ["true", "false"]},
                    },
                },
                "secretObjects": {"type": "array"},
            },
        },
    },
}

# The `objects` parameter is itself YAML: a list of what ASCP fetches.
ASCP_OBJECTS_SCHEMA = {
    "type": "array",
    "minItems": 1,
    "items": {
        "type": "object",
        "additionalProperties": False,
        "required": ["objectName", "objectType"],
        "properties": {
            "objectName": {"type": "string", "minLength": 1},
            "objectType": {"enum": ["secretsmanager", "ssmparameter"]},
            "objectAlias": {"type": "string"},
            "objectVersion": {"type": "string"},
            "objectVersionLabel": {"type": "string"},
            "jmesPath": {
                "type": "array",
                "items": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["path", "objectAlias"],
                    "properties": {"path": {"type": "string"}, "objectAlias": {"type": "string"}},
                },
            },
        },
    },
}

_SELECTOR = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "matchLabels": {"type": "object", "additionalProperties": {"type": "string"}},
        "matchExpressions": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["key", "operator"],
                "properties": {
                    "key": {"type": "string"},
                    "operator": {"enum": ["In", "NotIn", "Exists", "DoesNotExist"]},
                    "values": {"type": "array", "items": {"type": "string"}},
                },
            },
        },
    },
}

# Written from config/crd/bases/vpcresources.k8s.aws_securitygrouppolicies.yaml of
# aws/amazon-vpc-resource-controller-k8s; one to five groups is AWS's documented limit.
SECURITY_GROUP_POLICY_SCHEMA = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "additionalProperties": False,
    "properties": {
        "apiVersion": {"const": "vpcresources.k8s.aws/v1beta1"},
        "kind": {"const": "SecurityGroupPolicy"},
        "metadata": {"type": "object", "required": ["name"]},
        "spec": {
            "type": "object",
            "additionalProperties": False,
            "required": ["securityGroups"],
            # One selector or the other, as the controller requires.
            "oneOf": [{"required": ["podSelector"]}, {"required": ["serviceAccountSelector"]}],
            "properties": {
                "podSelector": _SELECTOR,
                "serviceAccountSelector": _SELECTOR,
                "securityGroups": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["groupIds"],
                    "properties": {
                        "groupIds": {
                            "type": "array",
                            "minItems": 1,
                            "maxItems": 5,
                            "items": {"type": "string", "pattern": r"^sg-([0-9a-f]{8}|[0-9a-f]{17})$"},
                        }
                    },
                },
            },
        },
    },
}

IMAGE = re.compile(
    r"^(?P<repo>[^@:]+(?::\d+)?/[^@:]+)"  # registry[:port]/repository
    r":(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})"
    r"@sha256:[0-9a-f]{64}$"
)
AWS_ACCESS_KEY = re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b|aws_secret_access_key|AWS_SECRET_ACCESS_KEY")


def dotted(path) -> str:
    return ".".join(map(str, path))


def pod_spec(doc: dict) -> dict:
    return doc["spec"]["template"]["spec"]


def check_file(path: Path) -> list[str]:
    problems: list[str] = []
    text = path.read_text()
    docs = [d for d in yaml.safe_load_all(text) if d]
    where = path.name

    if AWS_ACCESS_KEY.search(text):
        problems.append(f"{where}: something that looks like an AWS access key or secret key")

    by_kind: dict[str, list[dict]] = {}
    for doc in docs:
        by_kind.setdefault(doc["kind"], []).append(doc)

    if "Secret" in by_kind:
        problems.append(f"{where}: a Secret object; secrets come from Secrets Manager (CSI driver)")

    for spc in by_kind.get("SecretProviderClass", []):
        spc_where = f"{where}: SecretProviderClass {spc.get('metadata', {}).get('name')}"
        for error in jsonschema.Draft202012Validator(SECRET_PROVIDER_CLASS_SCHEMA).iter_errors(spc):
            problems.append(f"{spc_where}: {dotted(error.path)}: {error.message}")
        objects_text = spc.get("spec", {}).get("parameters", {}).get("objects", "")
        try:
            objects = yaml.safe_load(objects_text)
        except yaml.YAMLError as e:
            problems.append(f"{spc_where}: parameters.objects is not YAML: {e}")
            continue
        for error in jsonschema.Draft202012Validator(ASCP_OBJECTS_SCHEMA).iter_errors(objects):
            problems.append(f"{spc_where}: parameters.objects.{dotted(error.path)}: {error.message}")
        if "PLACEHOLDER" in objects_text or "SET-BY-OVERLAY" in objects_text:
            problems.append(f"{spc_where}: the overlay did not set the secret's name")

    problems += check_security_group_policies(where, by_kind)

    deployments = [d for d in by_kind.get("Deployment", []) if d["metadata"]["name"] == "chairtime-web"]
    jobs = by_kind.get("Job", [])
    if len(deployments) != 1 or len(jobs) != 1:
        counts = f"{len(deployments)} and {len(jobs)}"
        problems.append(f"{where}: expected one Deployment chairtime-web and one Job, got {counts}")
        return problems
    web, job = pod_spec(deployments[0]), pod_spec(jobs[0])

    for doc in (deployments[0], jobs[0]):
        doc_where = f"{where}: {doc['kind']} {doc['metadata']['name']}"
        for container in pod_spec(doc)["containers"] + pod_spec(doc).get("initContainers", []):
            match = IMAGE.match(container["image"])
            if not match:
                problems.append(
                    f"{doc_where}: image {container['image']!r} is not <repo>:<tag>@sha256:<digest>"
                )
            elif match["tag"] == "latest":
                problems.append(f"{doc_where}: the tag is `latest`")

    web_image = web["containers"][0]["image"]
    match = IMAGE.match(web_image)
    if match:
        expected = f"chairtime-migrate-{match['tag']}"
        actual = jobs[0]["metadata"]["name"]
        if actual != expected:
            problems.append(f"{where}: the migrations Job is {actual!r}, not {expected!r} (see replacements)")
    if job["containers"][0]["image"] != web_image:
        problems.append(f"{where}: the migrations Job's image is not the web pods' {web_image!r}")
    for field in ("serviceAccountName",):
        if job.get(field) != web.get(field):
            problems.append(f"{where}: the migrations Job's {field} differs from the web pods'")
    if job["containers"][0].get("envFrom") != web["containers"][0].get("envFrom"):
        problems.append(f"{where}: the migrations Job's settings (envFrom) differ from the web pods'")
    job_csi = [v for v in job["volumes"] if "csi" in v]
    web_csi = [v for v in web["volumes"] if "csi" in v]
    if job_csi != web_csi:
        problems.append(f"{where}: the migrations Job's secrets volume differs from the web pods'")
    problems += check_worker(where, by_kind, deployments[0])
    return problems


WORKER = "chairtime-worker"
# DNS, the Pod Identity agent, HTTPS (SES's API), PostgreSQL, MySQL, SMTP submission;
# the e2e overlay's SMTP sink listens on 2525.
WORKER_EGRESS_PORTS = {53, 80, 443, 5432, 3306, 587, 2525}


def _selects(policy: dict, labels: dict) -> bool:
    selector = policy["spec"].get("podSelector", {})
    if any(labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
        return False
    for expression in selector.get("matchExpressions", []):
        value, op = labels.get(expression["key"]), expression["operator"]
        values = expression.get("values", [])
        if (
            (op == "In" and value not in values)
            or (op == "NotIn" and value in values)
            or (op == "Exists" and value is None)
            or (op == "DoesNotExist" and value is not None)
        ):
            return False
    return True


def check_worker(where: str, by_kind: dict[str, list[dict]], web_doc: dict) -> list[str]:
    problems: list[str] = []
    workers = [d for d in by_kind.get("Deployment", []) if d["metadata"]["name"] == WORKER]
    if len(workers) != 1:
        return [f"{where}: expected one Deployment {WORKER} (the message worker), got {len(workers)}"]
    worker_doc = workers[0]
    worker, web = pod_spec(worker_doc), pod_spec(web_doc)
    [container] = worker["containers"]
    web_container = web["containers"][0]
    w = f"{where}: {WORKER}"
    if container["image"] != web_container["image"]:
        problems.append(f"{w}: image {container['image']!r} is not the web pods' {web_container['image']!r}")
    if worker.get("serviceAccountName") != web.get("serviceAccountName"):
        problems.append(f"{w}: serviceAccountName differs from the web pods'")
    if container.get("envFrom") != web_container.get("envFrom"):
        problems.append(f"{w}: settings (envFrom) differ from the web pods'")
    if [v for v in worker["volumes"] if "csi" in v] != [v for v in web["volumes"] if "csi" in v]:
        problems.append(f"{w}: the secrets volume differs from the web pods'")
    if worker.get("securityContext") != web.get("securityContext"):
        problems.append(f"{w}: the pod securityContext differs from the web pods'")
    if container.get("securityContext") != web_container.get("securityContext"):
        problems.append(f"{w}: the container securityContext differs from the web pods'")
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        if probe not in container:
            problems.append(f"{w}: no {probe}")
    if not worker.get("terminationGracePeriodSeconds"):
        problems.append(f"{w}: no terminationGracePeriodSeconds")
    if "messages_worker" not in " ".join(container.get("command", []) + container.get("args", [])):
        problems.append(f"{w}: does not run the messages worker")
    if not container.get("resources", {}).get("limits"):
        problems.append(f"{w}: no resource limits")

    labels = worker_doc["spec"]["template"]["metadata"]["labels"]
    budgets = by_kind.get("PodDisruptionBudget", [])
    if budgets and not any(
        all(labels.get(k) == v for k, v in b["spec"]["selector"].get("matchLabels", {}).items())
        for b in budgets
    ):
        problems.append(f"{w}: the web pods have a PodDisruptionBudget, the worker none")

    policies = [p for p in by_kind.get("NetworkPolicy", []) if _selects(p, labels)]
    if len(policies) != 1 or policies[0]["metadata"]["name"] != WORKER:
        names = [p["metadata"]["name"] for p in policies]
        problems.append(f"{w}: selected by NetworkPolicies {names}, expected only {WORKER}")
    for policy in policies:
        spec, name = policy["spec"], policy["metadata"]["name"]
        if set(spec.get("policyTypes", [])) != {"Ingress", "Egress"}:
            problems.append(f"{w}: NetworkPolicy {name} must restrict Ingress and Egress")
        if spec.get("ingress"):
            problems.append(f"{w}: NetworkPolicy {name} lets something connect in")
        ports = {p.get("port") for rule in spec.get("egress", []) for p in rule.get("ports", [])}
        if not ports <= WORKER_EGRESS_PORTS:
            problems.append(
                f"{w}: egress to ports {sorted(ports - WORKER_EGRESS_PORTS, key=str)} beyond "
                f"{sorted(WORKER_EGRESS_PORTS)}"
            )
        if any(not rule.get("ports") for rule in spec.get("egress", [])):
            problems.append(f"{w}: an egress rule without ports (any port)")
    return problems


# Where a pod template sits in each kind that makes pods.
POD_TEMPLATES = {
    "Deployment": ("spec", "template"),
    "StatefulSet": ("spec", "template"),
    "DaemonSet": ("spec", "template"),
    "ReplicaSet": ("spec", "template"),
    "Job": ("spec", "template"),
    "CronJob": ("spec", "jobTemplate", "spec", "template"),
}
# A container with either of these (from the app's settings, or its own env) talks to the
# database or Redis.
DATA_SETTINGS = {"DATABASE_URL", "REDIS_URL", "REDIS_URL_FILE"}


def pod_templates(by_kind: dict[str, list[dict]]) -> list[tuple[str, dict]]:
    """("Kind name", pod template) for every object that makes pods; bare Pods too."""
    found = []
    for kind, path in POD_TEMPLATES.items():
        for doc in by_kind.get(kind, []):
            template = doc
            for key in path:
                template = template.get(key, {})
            found.append((f"{kind} {doc['metadata']['name']}", template))
    found += [(f"Pod {d['metadata']['name']}", d) for d in by_kind.get("Pod", [])]
    return found


def reaches_data(template: dict, config_maps: dict[str, dict]) -> bool:
    spec = template.get("spec", {})
    for container in spec.get("containers", []) + spec.get("initContainers", []):
        names = {e["name"] for e in container.get("env", [])}
        for source in container.get("envFrom", []):
            ref = source.get("configMapRef", {}).get("name")
            names |= set(config_maps.get(ref, {}))
        if names & DATA_SETTINGS:
            return True
    return False


def check_security_group_policies(where: str, by_kind: dict[str, list[dict]]) -> list[str]:
    problems: list[str] = []
    policies = by_kind.get("SecurityGroupPolicy", [])
    for policy in policies:
        p_where = f"{where}: SecurityGroupPolicy {policy.get('metadata', {}).get('name')}"
        for error in jsonschema.Draft202012Validator(SECURITY_GROUP_POLICY_SCHEMA).iter_errors(policy):
            problems.append(f"{p_where}: {dotted(error.path)}: {error.message}")
        if "serviceAccountSelector" in policy.get("spec", {}):
            problems.append(f"{p_where}: select pods by podSelector (this check reads pod labels only)")
    config_maps = {c["metadata"]["name"]: c.get("data", {}) for c in by_kind.get("ConfigMap", [])}
    for name, template in pod_templates(by_kind):
        if not reaches_data(template, config_maps):
            continue
        labels = template.get("metadata", {}).get("labels", {})
        selecting = [p["metadata"]["name"] for p in policies if _selects(p, labels)]
        if len(selecting) != 1:
            problems.append(
                f"{where}: {name} reaches the database or Redis but is selected by "
                f"SecurityGroupPolicies {selecting}, not exactly one: it would not get the "
                "app pods' security group, the only one they admit"
            )
    return problems


def main(paths: list[str]) -> int:
    problems = [problem for path in paths for problem in check_file(Path(path))]
    for problem in problems:
        print(f"ERROR {problem}")
    if not problems:
        checked = (
            "SecretProviderClass, SecurityGroupPolicy, image pins, migrations Job, message worker, no secrets"
        )
        print(f"OK {len(paths)} overlay(s): {checked}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
