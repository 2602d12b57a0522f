using System.Runtime.CompilerServices;

// The layers and the gradient engine stay internal (the public surface is FineTuner and its records), but
// every backward pass must be checked against finite differences by the tests.
[assembly: InternalsVisibleTo("MLTransfer.Tests")]
