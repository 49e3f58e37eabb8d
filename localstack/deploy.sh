#!/usr/bin/env bash
# Deploys the dev stack into a running LocalStack with cdklocal, then runs one business date through
# the deployed state machine and waits for its outcome.
set -euo pipefail
cd "$(dirname "$0")/.."

DATE="${1:-$(date -u -d yesterday +%F)}"
export AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}" AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test

npx --yes aws-cdk-local@2 bootstrap -c env=dev
npx --yes aws-cdk-local@2 deploy -c env=dev --require-approval never --outputs-file cdk.out/localstack-outputs.json

arn="$(node -e "const o=require('./cdk.out/localstack-outputs.json'); const s=Object.values(o)[0]; console.log(Object.entries(s).find(([k])=>/BatchStateMachineArn/.test(k))[1])")"
execution="$(awslocal stepfunctions start-execution --state-machine-arn "$arn" --input "{\"businessDate\":\"$DATE\"}" --query executionArn --output text)"
echo "started $execution"
while status="$(awslocal stepfunctions describe-execution --execution-arn "$execution" --query status --output text)" && [[ "$status" == RUNNING ]]; do
  sleep 5
done
echo "execution $status"
[[ "$status" == SUCCEEDED ]]
