# syntax=docker/dockerfile:1
#
# Container image of cert-expiry-exporter: a static-ish Rust binary on distroless (glibc,
# CA certificates, user nonroot 65532, no shell).
#
#   docker build -t cert-expiry-exporter \
#       --build-arg REVISION=$(git rev-parse --short=12 HEAD) .
#   docker run --rm -p 10443:10443 \
#       -v "$PWD/config.yaml:/etc/cert-expiry-exporter/config.yaml:ro" cert-expiry-exporter
#
# Needs BuildKit (the default since Docker 23) for the cache mounts.

ARG RUST_IMAGE=rust:1-bookworm
ARG RUNTIME_IMAGE=gcr.io/distroless/cc-debian12:nonroot

FROM ${RUST_IMAGE} AS builder
# .git is not in the build context, so build.rs takes the revision for
# cert_exporter_build_info from CERT_EXPORTER_REVISION instead.
ARG REVISION=unknown
WORKDIR /src
COPY . .
# The registry and target caches survive between builds; the binary is copied out of the
# cache mount in the same step.
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/usr/local/cargo/git,sharing=locked \
    --mount=type=cache,target=/src/target,sharing=locked \
    CERT_EXPORTER_REVISION="${REVISION}" cargo build --release --locked \
    && install -D -m 0755 target/release/cert-expiry-exporter /out/cert-expiry-exporter

FROM ${RUNTIME_IMAGE}
ARG REVISION=unknown
LABEL org.opencontainers.image.title="cert-expiry-exporter" \
      org.opencontainers.image.description="Prometheus exporter for TLS certificate expiry, chain validity and revocation" \
      org.opencontainers.image.source="https://github.com/cert-expiry-exporter/cert-expiry-exporter" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.revision="${REVISION}"
COPY --from=builder /out/cert-expiry-exporter /usr/local/bin/cert-expiry-exporter
# distroless's nonroot user; numeric so that Kubernetes can check runAsNonRoot.
USER 65532:65532
EXPOSE 10443
ENTRYPOINT ["/usr/local/bin/cert-expiry-exporter"]
CMD ["--config.file=/etc/cert-expiry-exporter/config.yaml"]
