"""gRPC serving, in the same process and on the same event loop as the HTTP API, through the same `Serving`
(model cache, batcher, runtimes): Triton's / KServe's `inference.GRPCInferenceService`, TensorFlow Serving's
`PredictionService` and `ModelService`, standard health checking and server reflection.

The only package that imports grpcio. `server.GrpcServer` is started and stopped by the app's lifespan.
"""
