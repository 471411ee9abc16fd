#!/usr/bin/env bash
# Build Nimbus, start a node, deploy the example Go function with the AWS CLI
# and invoke it, then deploy the example SAM application and call its API. The node keeps running in the foreground (Ctrl-C stops it);
# with --exit the script stops it and exits after the invocation.
set -euo pipefail
cd "$(dirname "$0")/.."

exit_after=false
[[ "${1:-}" == "--exit" ]] && exit_after=true

port=${NIMBUS_DEMO_PORT:-4566}
work=.nimbus
mkdir -p "$work"

echo "==> building nimbus and the example function"
go build -o "$work/nimbus" ./cmd/nimbus
CGO_ENABLED=0 GOOS=linux go build -tags lambda.norpc -o "$work/bootstrap" ./examples/hello-go
(cd "$work" && rm -f hello.zip && python3 -c 'import zipfile,sys; z=zipfile.ZipFile("hello.zip","w",zipfile.ZIP_DEFLATED); i=zipfile.ZipInfo("bootstrap"); i.external_attr=0o755<<16; i.compress_type=zipfile.ZIP_DEFLATED; z.writestr(i, open("bootstrap","rb").read()); z.close()')

echo "==> starting nimbus server on 127.0.0.1:$port (log: $work/server.log)"
"$work/nimbus" server --listen "127.0.0.1:$port" --data-dir "$work/data" >"$work/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null' EXIT
for _ in $(seq 100); do
  grep -q "nimbus listening" "$work/server.log" 2>/dev/null && break
  kill -0 $server 2>/dev/null || { cat "$work/server.log"; exit 1; }
  sleep 0.1
done

# The node generated root credentials into its data directory on first
# start; `nimbus env` exports them with the endpoint and region.
echo "==> eval \"\$(nimbus env --data-dir $work/data)\""
eval "$("$work/nimbus" env --data-dir "$work/data")"
export AWS_PAGER=
# Older AWS CLIs (Debian's v2.9) ignore AWS_ENDPOINT_URL; the flag works everywhere.
aws() { command aws --endpoint-url "$AWS_ENDPOINT_URL" "$@"; }

# IAM policies are enforced: the function runs as a role of its own (it
# makes no AWS calls, so the role needs no policy).
echo "==> aws iam create-role --role-name hello-role"
aws iam get-role --role-name hello-role >/dev/null 2>&1 || aws iam create-role --role-name hello-role \
  --assume-role-policy-document '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}' \
  --query Role.Arn --output text
role=$(aws iam get-role --role-name hello-role --query Role.Arn --output text)

echo "==> aws lambda create-function --function-name hello --runtime provided.al2023"
aws lambda delete-function --function-name hello >/dev/null 2>&1 || true
aws lambda create-function --function-name hello --runtime provided.al2023 --handler bootstrap \
  --role "$role" --zip-file "fileb://$work/hello.zip" \
  --query '{FunctionArn: FunctionArn, State: State}'
aws lambda wait function-active-v2 --function-name hello

echo "==> aws lambda invoke --function-name hello --payload '{\"name\":\"Nimbus\"}'"
binfmt=()
command aws --version 2>&1 | grep -q '^aws-cli/1' || binfmt=(--cli-binary-format raw-in-base64-out)
aws lambda invoke --function-name hello "${binfmt[@]}" \
  --payload '{"name":"Nimbus"}' --log-type Tail "$work/out.json" \
  --query 'LogResult' --output text | base64 -d
echo "response: $(cat "$work/out.json")"
grep -q '"message":"Hello, Nimbus!"' "$work/out.json"

# The same node runs SAM applications: nimbus deploy builds the template's
# Go functions, uploads them and creates the stack (an HTTP API in front).
echo "==> (cd examples/sam-http-api-go && nimbus deploy --stack-name demo-http-api)"
(cd examples/sam-http-api-go && "../../$work/nimbus" deploy --stack-name demo-http-api) | tee "$work/deploy.out"
api=$(awk '$1 == "ApiUrl" {print $2}' "$work/deploy.out")
echo "==> curl ${api}hello"
curl -fsS "${api}hello"
echo

if $exit_after; then
  exit 0
fi
echo "==> nimbus is running at $AWS_ENDPOINT_URL (Ctrl-C to stop)"
wait $server
