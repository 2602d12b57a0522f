namespace MLTransfer.Heads;

/// <summary>The trainer fitted on backbone features: the only part of the model that learns.</summary>
public enum HeadKind
{
    /// <summary>Multinomial logistic regression by L-BFGS (ML.NET <c>LbfgsMaximumEntropy</c>). Default: deterministic and strong on small data.</summary>
    LbfgsMaximumEntropy,
    /// <summary>Multinomial logistic regression by SDCA (ML.NET <c>SdcaMaximumEntropy</c>).</summary>
    SdcaMaximumEntropy,
}
