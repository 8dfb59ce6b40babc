"""Chairtime's AWS infrastructure (AWS CDK v2). See docs/aws.md."""
