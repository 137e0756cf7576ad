# Static tinyscale image. Untested here: no Docker engine runs on the build
# machines of this project (see README, "Deployment").
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/tinyscale ./cmd/tinyscale

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/tinyscale /usr/local/bin/tinyscale
WORKDIR /data
ENV PORT=3005 TINYSCALE_SERVERS=/config/servers.json TINYSCALE_STORE=/data/tinyscale.db
EXPOSE 3005
USER nonroot
ENTRYPOINT ["/usr/local/bin/tinyscale"]
CMD ["serve"]
