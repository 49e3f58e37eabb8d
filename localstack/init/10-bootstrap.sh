#!/usr/bin/env bash
# Runs inside LocalStack when it is ready: nothing to pre-create, the CDK stack owns every resource.
echo "cartflow: LocalStack ready; deploy with localstack/deploy.sh"
