"""gankit lab: watch a GAN learn, live in the browser (after GAN Lab, Kahng et al. 2018)."""
