"""Fraud-detection models: training, export to numpy arrays, serving, artifacts, SHAP.

Pure numpy/scikit-learn code working on float64 feature matrices of shape (n, F); no
Django, no database.  TensorFlow is imported only inside the autoencoder training
function: serving loads numpy arrays and never imports it.
"""
