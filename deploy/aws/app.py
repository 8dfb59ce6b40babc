#!/usr/bin/env python3
"""Chairtime's CDK app: `cdk synth -c env=staging` (or prod). See docs/aws.md."""

import sys

import aws_cdk as cdk
from chairtime_aws.config import ConfigError
from chairtime_aws.stacks import build


def main() -> None:
    app = cdk.App()
    try:
        build(app)
    except ConfigError as e:
        sys.exit(f"chairtime-aws: {e}")
    app.synth()


if __name__ == "__main__":
    main()
