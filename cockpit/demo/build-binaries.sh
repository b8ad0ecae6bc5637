#!/usr/bin/env bash
# Builds the demo cluster's binaries from Go modules into a per-version cache.
# Usage: build-binaries.sh CACHE_DIR
# Each binary is built only when missing; Go's own build and module caches make a
# rebuild after a version bump incremental.
set -euo pipefail

K8S_VERSION=${K8S_VERSION:-v1.36.3}
ETCD_VERSION=${ETCD_VERSION:-v3.6.16}
KWOK_VERSION=${KWOK_VERSION:-v0.8.0}
ARGO_VERSION=${ARGO_VERSION:-v4.0.2}
KUEUE_VERSION=${KUEUE_VERSION:-v0.17.0}

cache=${1:?usage: build-binaries.sh CACHE_DIR}
bin="$cache/bin"
work="$cache/src"
mkdir -p "$bin" "$work"

# One build at a time per cache: a second one (the test setup while `cockpit demo up` builds)
# waits, then finds what the first built.
if command -v flock >/dev/null; then
  exec 9>"$cache/.build.lock"
  flock 9
fi

command -v go >/dev/null || { echo "error: the Go toolchain (go) is not on PATH; install Go >= 1.26 to build the demo cluster" >&2; exit 3; }

export CGO_ENABLED=0
export GOFLAGS="${GOFLAGS:-} -trimpath"

log() { printf '[build %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

k8s_ldflags() {
  local v=${K8S_VERSION#v} major minor
  major=${v%%.*}; minor=${v#*.}; minor=${minor%%.*}
  local f=""
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    f+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor"
    f+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
  done
  echo "-s -w$f"
}

build_kube() {
  local want=(kube-apiserver kube-controller-manager kube-scheduler kubectl) missing=()
  for b in "${want[@]}"; do [ -x "$bin/$b-$K8S_VERSION" ] || missing+=("$b"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  local mod="$work/kube-$K8S_VERSION"
  mkdir -p "$mod"
  if [ ! -f "$mod/go.sum" ]; then
    log "preparing wrapper module for k8s.io/kubernetes $K8S_VERSION"
    local gomod
    gomod=$(cd "$mod" && go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
    local staging_version="v0.${K8S_VERSION#v1.}"
    {
      echo "module cockpit.local/kubebuild"
      echo
      echo "go 1.26.0"
      echo
      echo "require k8s.io/kubernetes $K8S_VERSION"
      echo
      echo "replace ("
      grep -E '^\s*k8s\.io/[a-z0-9-]+ => \./staging/' "$gomod" | awk -v v="$staging_version" '{print "\t" $1 " => " $1 " " v}'
      echo ")"
    } > "$mod/go.mod"
    cat > "$mod/tools.go" <<'GO'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
GO
    (cd "$mod" && go mod tidy -e >/dev/null 2>&1 || true; cd "$mod" && go mod download all >/dev/null 2>&1 || true)
    (cd "$mod" && go get "k8s.io/kubernetes@$K8S_VERSION" >/dev/null)
  fi
  local ld; ld=$(k8s_ldflags)
  for b in "${missing[@]}"; do
    log "building $b $K8S_VERSION"
    (cd "$mod" && go build -tags=selinux,notest,grpcnotrace -ldflags "$ld" -o "$bin/$b-$K8S_VERSION.tmp" "k8s.io/kubernetes/cmd/$b")
    mv "$bin/$b-$K8S_VERSION.tmp" "$bin/$b-$K8S_VERSION"
  done
}

build_etcd() {
  [ -x "$bin/etcd-$ETCD_VERSION" ] && return 0
  local mod="$work/etcd-$ETCD_VERSION"
  mkdir -p "$mod"
  log "building etcd $ETCD_VERSION"
  cat > "$mod/go.mod" <<GOMOD
module cockpit.local/etcdbuild

go 1.26.0

require go.etcd.io/etcd/server/v3 $ETCD_VERSION

replace (
	go.etcd.io/etcd/api/v3 => go.etcd.io/etcd/api/v3 $ETCD_VERSION
	go.etcd.io/etcd/client/pkg/v3 => go.etcd.io/etcd/client/pkg/v3 $ETCD_VERSION
	go.etcd.io/etcd/client/v3 => go.etcd.io/etcd/client/v3 $ETCD_VERSION
	go.etcd.io/etcd/pkg/v3 => go.etcd.io/etcd/pkg/v3 $ETCD_VERSION
)
GOMOD
  cat > "$mod/tools.go" <<'GO'
//go:build tools

package tools

import _ "go.etcd.io/etcd/server/v3"
GO
  (cd "$mod" && go mod tidy >/dev/null && go build -ldflags "-s -w" -o "$bin/etcd-$ETCD_VERSION.tmp" go.etcd.io/etcd/server/v3)
  mv "$bin/etcd-$ETCD_VERSION.tmp" "$bin/etcd-$ETCD_VERSION"
}

build_kwok() {
  for b in kwok kwokctl; do
    [ -x "$bin/$b-$KWOK_VERSION" ] && continue
    log "building $b $KWOK_VERSION"
    GOBIN="$work/gobin-kwok-$KWOK_VERSION" go install -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/$b@$KWOK_VERSION"
    mv "$work/gobin-kwok-$KWOK_VERSION/$b" "$bin/$b-$KWOK_VERSION"
  done
}

# `go install pkg@version` asks the proxy for the module's version list, which not every proxy
# serves; a wrapper module that requires the pinned version needs only that version.
# build_wrapped BINARY VERSION MODULE PACKAGE LDFLAGS -> $bin/BINARY-VERSION
build_wrapped() {
  local binary=$1 version=$2 module=$3 package=$4 ldflags=$5
  [ -x "$bin/$binary-$version" ] && return 0
  local mod="$work/$binary-$version"
  mkdir -p "$mod"
  log "building $binary $version"
  printf 'module cockpit.local/%sbuild\n\ngo 1.26.0\n\nrequire %s %s\n' "${binary//-/}" "$module" "$version" > "$mod/go.mod"
  printf '//go:build tools\n\npackage tools\n\nimport _ "%s"\n' "$package" > "$mod/tools.go"
  (cd "$mod" && go mod tidy >/dev/null && \
    go build -ldflags "-s -w $ldflags" -o "$bin/$binary-$version.tmp" "$package")
  mv "$bin/$binary-$version.tmp" "$bin/$binary-$version"
}

build_argo() {
  build_wrapped workflow-controller "$ARGO_VERSION" github.com/argoproj/argo-workflows/v4 \
    github.com/argoproj/argo-workflows/v4/cmd/workflow-controller \
    "-X github.com/argoproj/argo-workflows/v4.version=$ARGO_VERSION"
}

build_kueue() {  # only the manager's main package
  build_wrapped kueue-manager "$KUEUE_VERSION" sigs.k8s.io/kueue sigs.k8s.io/kueue/cmd/kueue \
    "-X sigs.k8s.io/kueue/pkg/version.GitVersion=$KUEUE_VERSION"
}

# k9s, for bench/bench_vs_k9s.py only (never a default target, never committed).
K9S_VERSION=${K9S_VERSION:-v0.50.16}

build_k9s() {
  build_wrapped k9s "$K9S_VERSION" github.com/derailed/k9s github.com/derailed/k9s \
    "-X github.com/derailed/k9s/cmd.version=$K9S_VERSION"
}

KATIB_VERSION=${KATIB_VERSION:-v0.19.0}

# CRDs come from the same module zips the Go proxy serves.
copy_crds() {
  local project=$1 module=$2 version=$3 subdir=$4
  local dest="$cache/crds/$project-$version"
  compgen -G "$dest/*.yaml" >/dev/null && return 0
  log "copying $project manifests $version"
  local dir
  dir=$(cd "$work" && GOFLAGS=-mod=mod go mod download -json "$module@$version" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
  mkdir -p "$dest.tmp"
  cp "$dir/$subdir"/*.yaml "$dest.tmp/"
  rm -f "$dest.tmp/kustomization.yaml"
  chmod u+w "$dest.tmp"/*.yaml
  rm -rf "$dest"; mv "$dest.tmp" "$dest"
}

build_crds() {
  copy_crds argo github.com/argoproj/argo-workflows/v4 "$ARGO_VERSION" manifests/base/crds/minimal
  # The checksum database does not list this katib release; only its YAML CRDs are used.
  copy_crds kueue sigs.k8s.io/kueue "$KUEUE_VERSION" config/components/crd/bases
  # Kueue's webhook configurations, registered by the demo with loopback URLs.
  copy_crds kueue-webhooks sigs.k8s.io/kueue "$KUEUE_VERSION" config/components/webhook
  GONOSUMDB=github.com/kubeflow/katib copy_crds katib github.com/kubeflow/katib "$KATIB_VERSION" manifests/v1beta1/components/crd
}

targets=${BUILD_TARGETS:-"etcd kwok kube argo kueue crds"}
for t in $targets; do "build_$t"; done
log "all binaries present in $bin"
