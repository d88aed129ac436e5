#!/bin/sh
# Installs the Debian 12 packages kvmdesk needs to build, test and run.
set -eu
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends \
  ca-certificates build-essential meson ninja-build pkg-config \
  libsodium-dev libprotobuf-c-dev protobuf-c-compiler libevent-dev \
  libopus-dev libavcodec-dev libavutil-dev libswscale-dev \
  libsystemd-dev libasound2-dev libzstd-dev check \
  clang libclang-rt-14-dev ffmpeg mandoc systemd iproute2 procps python3 psmisc
