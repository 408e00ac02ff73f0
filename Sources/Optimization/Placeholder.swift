// Optimization
