{
  "targets": [
    {
      "target_name": "ndcnn_blas",
      "sources": ["src/blas.c", "src/lowering.c", "src/pointwise.c"],
      # -fno-trapping-math lets GCC if-convert (and vectorise) ReLU's backward mask; ndcnn
      # never enables floating-point traps.
      "cflags": ["-O3", "-std=c11", "-Wall", "-Wextra", "-fno-trapping-math"],
      "libraries": ["-lopenblas"]
    }
  ]
}
