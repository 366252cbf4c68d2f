# syntax=docker/dockerfile:1
# hostrisk-operator image: a static musl binary (rustls + ring, no OpenSSL) on distroless/static, non-root.
#   docker build -t <registry>/hostrisk-operator:0.1.0 .
# The build stage runs exactly `cargo build --release --locked --target x86_64-unknown-linux-musl`, whose
# binary is target/x86_64-unknown-linux-musl/release/hostrisk-operator.

FROM rust:1.95-bookworm AS build
ARG TARGET=x86_64-unknown-linux-musl
# musl-tools provides musl-gcc, which ring's build script uses to compile its C and assembly parts for musl.
RUN apt-get update \
 && apt-get install -y --no-install-recommends musl-tools \
 && rm -rf /var/lib/apt/lists/* \
 && rustup target add "${TARGET}"
ENV CC_x86_64_unknown_linux_musl=musl-gcc
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --target "${TARGET}" \
 && install -D -m 0755 "target/${TARGET}/release/hostrisk-operator" /out/hostrisk-operator

# distroless/static: CA certificates, /etc/passwd with the nonroot user (65532), no shell, no libc.
FROM gcr.io/distroless/static-debian12:nonroot
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="hostrisk-operator" \
      org.opencontainers.image.description="Kubernetes operator that mirrors Huawei Cloud HSS host risk status into HostRiskWatch resources" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="gcr.io/distroless/static-debian12:nonroot"
COPY --from=build /out/hostrisk-operator /hostrisk-operator
USER 65532:65532
# Health and metrics server (/livez, /readyz, /metrics), see --health-addr.
EXPOSE 8080
ENTRYPOINT ["/hostrisk-operator"]
CMD ["run"]
