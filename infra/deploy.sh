#!/usr/bin/env bash
# Package the Lambda code and deploy infra/template.yaml with CloudFormation (see docs/deploy.md).
#
#   infra/deploy.sh <stack-name> <parameters-file>
#
# The parameters file holds KEY=VALUE lines (CloudFormation parameter names, e.g. BotBaseUrl=...);
# CodeBucket must be an existing S3 bucket you may write to. Needs: aws CLI v2, python3.12, zip.
set -euo pipefail

stack="${1:?usage: infra/deploy.sh <stack-name> <parameters-file>}"
params_file="${2:?usage: infra/deploy.sh <stack-name> <parameters-file>}"
root="$(cd "$(dirname "$0")/.." && pwd)"
build="$root/.build/lambda"
python="${PYTHON:-python3.12}"

mapfile -t overrides < <(grep -Ev '^\s*(#|$)' "$params_file")
bucket="$(printf '%s\n' "${overrides[@]}" | sed -n 's/^CodeBucket=//p')"
[[ -n "$bucket" ]] || { echo "CodeBucket=... missing from $params_file" >&2; exit 2; }

rm -rf "$build" && mkdir -p "$build/pkg"
# Dependencies for the Lambda runtime (Linux x86_64, CPython 3.12), wheels only: no compiler needed.
"$python" -m pip install --quiet --target "$build/pkg" --platform manylinux2014_x86_64 \
  --implementation cp --python-version 3.12 --only-binary=:all: \
  "pydantic>=2.7,<3" "pydantic-settings>=2.7,<3" "pyyaml>=6" "aws-lambda-powertools>=3.0" "tenacity>=9"
# The code: the whole backend and jitwire folders, which import no other project package (lint-imports,
# pyproject.toml). The local stack (jitlocal), jit-admin (jitadmin) and the bot are not deployed here.
(cd "$root" && tar --exclude='__pycache__' -cf - backend jitwire) | tar -xf - -C "$build/pkg"
digest="$(cd "$build/pkg" && find . -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)"
key="jit-access/lambda-$digest.zip"
(cd "$build/pkg" && zip -q -r -X "$build/lambda.zip" .)

aws s3 cp "$build/lambda.zip" "s3://$bucket/$key"
"$root/.venv/bin/python" -m infra.template_builder > "$build/template.yaml"
cmp -s "$build/template.yaml" "$root/infra/template.yaml" \
  || { echo "infra/template.yaml is stale: regenerate it (docs/deploy.md)" >&2; exit 2; }

aws cloudformation deploy \
  --stack-name "$stack" \
  --template-file "$root/infra/template.yaml" \
  --capabilities CAPABILITY_IAM \
  --no-fail-on-empty-changeset \
  --parameter-overrides "${overrides[@]}" "CodeKey=$key"

aws cloudformation describe-stacks --stack-name "$stack" --query 'Stacks[0].Outputs' --output table
