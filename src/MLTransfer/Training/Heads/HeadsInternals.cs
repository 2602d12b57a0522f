using System.Runtime.CompilerServices;

// The gradient check needs the loss/gradient routine itself, which is not public API.
[assembly: InternalsVisibleTo("MLTransfer.Tests")]
