"""The U-Net stack: the EDM U-Net, its preconditioning and loss, its training and its CPU
scale (family K)."""
