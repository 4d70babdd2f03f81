# Build a static gatekeeper, then run it as a non-root user on a minimal image.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/gatekeeper ./cmd/gatekeeper

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/gatekeeper /usr/local/bin/gatekeeper
# Mount your own gatekeeper.yaml and policy.yaml here; listen addresses must be the container's.
COPY --chown=nonroot:nonroot configs/gatekeeper.yaml configs/policy.yaml /etc/gatekeeper/
USER nonroot:nonroot
WORKDIR /var/lib/gatekeeper
EXPOSE 5060/udp 5060/tcp
ENTRYPOINT ["/usr/local/bin/gatekeeper"]
CMD ["serve", "--config", "/etc/gatekeeper/gatekeeper.yaml"]
