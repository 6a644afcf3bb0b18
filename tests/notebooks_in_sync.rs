//! The committed notebooks are exactly what the generator makes from the chapters.
