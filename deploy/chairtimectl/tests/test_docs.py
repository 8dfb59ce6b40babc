"""The kubectl commands the documentation gives name objects that exist."""

from __future__ import annotations

import re

from chairtimectl.release import ROOT, WORKLOADS

# `deploy/NAME`, `deployment/NAME` or `deployments/NAME` after a kubectl on the same line;
# `kubectl kustomize deploy/k8s` is a path, not an object.
_DEPLOYMENT_REF = re.compile(r"kubectl\b[^`\n]*?\s(?:deploy|deployments?)/(?P<name>[a-z0-9-]+)")


def test_it_names_the_deployments_by_their_real_names_in_every_kubectl_command_of_the_docs():
    names = {w.name for w in WORKLOADS}  # chairtime-web, chairtime-worker
    wrong = []
    for path in sorted([ROOT / "README.md", *(ROOT / "docs").glob("*.md")]):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            for match in _DEPLOYMENT_REF.finditer(line):
                if match["name"] != "k8s" and match["name"] not in names:
                    wrong.append(f"{path.relative_to(ROOT)}:{number}: {match.group(0)}")
    assert not wrong, f"the Deployments are {sorted(names)}:\n" + "\n".join(wrong)
