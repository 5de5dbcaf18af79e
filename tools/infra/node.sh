# Sourced (never run) by the project's scripts: puts Node.js 24 LTS first on PATH.
# The project targets Node 24 (package.json "engines", .nvmrc). When the `node` on PATH is older or
# missing, this fetches the pinned Node 24 binary once from the npm registry (the package
# node-linux-<arch>, the official binary repackaged), checks its sha512 against the one pinned
# here, unpacks it under .infra/node/<version>, and prepends its bin directory to PATH, so every
# `node`, `npm` and `npx` the script runs afterwards uses it. Set RAISE_SYNC_NODE to a node binary
# to use that one instead.
# shellcheck shell=bash

RAISE_SYNC_NODE_VERSION=24.22.3
_node_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

_node_major() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

_node_ensure() {
  if [ -n "${RAISE_SYNC_NODE:-}" ]; then
    PATH="$(dirname "$RAISE_SYNC_NODE"):$PATH"
  fi
  if command -v node >/dev/null 2>&1 && [ "$(_node_major node)" -ge 24 ]; then
    return 0
  fi
  local arch integrity
  case "$(uname -m)" in
    x86_64 | amd64)
      arch=x64
      integrity='sha512-KHsob+Fv9YerATvYujMbiyJqnRCvLtrcr/eTNqRqiOSGp97EOiRP1yP47+knGgQ/xnc3XY8xzkW587dlZzNqRA=='
      ;;
    aarch64 | arm64)
      arch=arm64
      integrity='sha512-IZx0J52/1NDwAsY2iyWR9nlPIYuYviTWetjj8+ElvYQh2+XRhLfCfkbFEF/2O5vGI2hcUbyPNHV+nz342FbJXw=='
      ;;
    *)
      echo "missing prerequisite: Node.js 24 (no packaged binary for $(uname -m) here; install Node 24 and put it first on PATH)" >&2
      return 2
      ;;
  esac
  local dir="$_node_root/.infra/node/$RAISE_SYNC_NODE_VERSION"
  if [ ! -x "$dir/bin/node" ]; then
    local found="none"
    command -v node >/dev/null 2>&1 && found="$(node -v)"
    command -v npm >/dev/null 2>&1 || {
      echo "missing prerequisite: Node.js 24 (found $found, and no npm to fetch Node $RAISE_SYNC_NODE_VERSION with)" >&2
      return 2
    }
    echo "[node] this project runs on Node.js 24 (found $found): fetching Node $RAISE_SYNC_NODE_VERSION from the npm registry, once" >&2
    local tmp
    tmp="$(mktemp -d)"
    local tgz="node-linux-$arch-$RAISE_SYNC_NODE_VERSION.tgz"
    if ! (cd "$tmp" && npm pack --silent "node-linux-$arch@$RAISE_SYNC_NODE_VERSION" >/dev/null 2>&1) || [ ! -s "$tmp/$tgz" ]; then
      rm -rf "$tmp"
      echo "missing prerequisite: Node.js 24 (found $found; 'npm pack node-linux-$arch@$RAISE_SYNC_NODE_VERSION' failed: install Node 24 or make the npm registry reachable)" >&2
      return 2
    fi
    local actual
    actual="sha512-$(openssl dgst -sha512 -binary "$tmp/$tgz" | base64 -w0)"
    if [ "$actual" != "$integrity" ]; then
      rm -rf "$tmp"
      echo "[node] refusing $tgz: its sha512 is not the pinned one" >&2
      return 2
    fi
    tar -xzf "$tmp/$tgz" -C "$tmp" && mkdir -p "$(dirname "$dir")" && rm -rf "$dir" && mv "$tmp/package" "$dir"
    rm -rf "$tmp"
  fi
  PATH="$dir/bin:$PATH"
  export PATH
  [ "$(_node_major node)" -ge 24 ] || {
    echo "missing prerequisite: Node.js 24 ($dir/bin/node does not run)" >&2
    return 2
  }
}

_node_ensure || exit $?
unset -f _node_ensure
