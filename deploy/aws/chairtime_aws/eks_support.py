"""When Amazon EKS stops standard support of the cluster's Kubernetes version.

After the end of standard support a cluster runs in extended support, at an extra
charge per cluster hour (docs/aws.md budgets standard support only), and 12 months
later EKS upgrades its control plane by itself. `make aws-check` runs this module
(``python -m chairtime_aws.eks_support``) and fails when the configured version's
standard support ends within ``WARN_DAYS`` days: time to upgrade (cluster.py's
KUBERNETES_VERSION with its kubectl layer, the Pod Security labels, k8s-check's schema
version and scripts/k8s-tools' kubectl; tests/test_eks_support.py keeps them together).

Source: the "Amazon EKS Kubernetes release calendar" in the Amazon EKS User Guide,
https://docs.aws.amazon.com/eks/latest/userguide/kubernetes-versions.html#kubernetes-release-calendar
(awsdocs/amazon-eks-user-guide, latest/ug/versioning/kubernetes-versions.adoc, as of
its commit 0e7fca37, read 2026-12-07: rows 1.29 to 1.35). "A minor version is under
standard support in Amazon EKS for the first 14 months after it's released" (same
page). Add a row when EKS releases a version.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import UTC, date, datetime

WARN_DAYS = 90


@dataclass(frozen=True)
class EksVersion:
    version: str
    eks_release: date
    end_of_standard_support: date
    end_of_extended_support: date
    source: str = "the EKS release calendar (module docstring)"


CALENDAR = {
    row.version: row
    for row in (
        EksVersion("1.33", date(2025, 5, 29), date(2026, 7, 29), date(2027, 7, 29)),
        EksVersion("1.34", date(2025, 10, 2), date(2026, 12, 2), date(2027, 12, 2)),
        EksVersion("1.35", date(2026, 1, 27), date(2027, 3, 27), date(2028, 3, 27)),
        # The stored copy of the calendar that could be read here ends at 1.35. That EKS
        # offers 1.36: the User Guide's "Review release notes for Kubernetes versions on
        # standard support" ("Kubernetes 1.36 is now available in Amazon EKS"). Its EKS
        # release date, 2026-06-02, is from a secondary source (devopsdreams.blogspot.com,
        # 2026/08, "Kubernetes 1.36 on Amazon EKS"); the end dates are that + 14 and + 26
        # months, the calendar's own rule. Replace with the calendar's row when read.
        EksVersion(
            "1.36",
            date(2026, 6, 2),
            date(2027, 8, 2),
            date(2028, 8, 2),
            source="EKS release date from a secondary source; end dates by the 14/26-month rule",
        ),
    )
}


class SupportEnding(Exception):
    """The configured version is (nearly) out of standard support; the message says what to do."""


def days_of_standard_support_left(version: str, today: date) -> int:
    row = CALENDAR.get(version)
    if row is None:
        raise SupportEnding(
            f"Kubernetes {version} is not in chairtime_aws/eks_support.py's CALENDAR: add its row "
            "from the EKS release calendar"
        )
    return (row.end_of_standard_support - today).days


def check(version: str, today: date, warn_days: int = WARN_DAYS) -> str:
    """A line saying how long standard support lasts; SupportEnding when it ends within ``warn_days``."""
    left = days_of_standard_support_left(version, today)
    row = CALENDAR[version]
    newer = sorted((v for v in CALENDAR if _key(v) > _key(version)), key=_key)
    advice = f"upgrade to {newer[-1]}" if newer else "upgrade to the newest version EKS offers"
    if left < 0:
        raise SupportEnding(
            f"EKS standard support of Kubernetes {version} ended on {row.end_of_standard_support} "
            f"({-left} days ago): clusters run in extended support at extra cost; {advice}"
        )
    if left <= warn_days:
        raise SupportEnding(
            f"EKS standard support of Kubernetes {version} ends on {row.end_of_standard_support}, "
            f"in {left} days (less than {warn_days}); {advice}"
        )
    return (
        f"EKS standard support of Kubernetes {version}: until {row.end_of_standard_support}, "
        f"{left} days from {today} (fails at {warn_days} or fewer; {row.source})"
    )


def _key(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split("."))


def main() -> int:
    from .cluster import KUBERNETES_VERSION

    today = datetime.now(tz=UTC).date()
    try:
        print(check(KUBERNETES_VERSION.version, today))
    except SupportEnding as ending:
        print(f"ERROR {ending}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
