//! Case 21: hostile HTML and Markdown, local and remote, render inert.
