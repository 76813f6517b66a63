// Loads the compiled addon; throws (with node's message) when it was not built.
module.exports = require('./build/Release/ndcnn_blas.node');
