# Build a static gatekeeper, then run it as a non-root user on a minimal image.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/gatekeeper ./cmd/gatekeeper
# The registry and the decision log live here; the image has no shell to make it later.
RUN mkdir -p /out/state

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/gatekeeper /usr/local/bin/gatekeeper
# configs/container.yaml listens on the container's address and takes GATEKEEPER_CARRIER and
# GATEKEEPER_DIALER_SOURCES from the environment; mount your own gatekeeper.yaml over it instead if you like.
COPY configs/container.yaml /etc/gatekeeper/gatekeeper.yaml
COPY configs/policy.yaml /etc/gatekeeper/policy.yaml
COPY --from=build --chown=nonroot:nonroot /out/state /var/lib/gatekeeper
VOLUME /var/lib/gatekeeper
USER nonroot:nonroot
WORKDIR /var/lib/gatekeeper
EXPOSE 5060/udp 5060/tcp
ENTRYPOINT ["/usr/local/bin/gatekeeper", "--config", "/etc/gatekeeper/gatekeeper.yaml"]
CMD ["serve"]
